#!/usr/bin/env python3
"""Write the prototype block of include/mpi.h from abi/functions.txt (one C
prototype per line, as MPICH 4.0's mpi_proto.h declares it: the MPI-3.1 functions
(one-sided communication included), MPI-IO, MPICH 4.0's large-count `_c` forms, the MPI-4 session entry points
and other MPI-4 additions, and the handle conversions). Each gets its PMPI_ twin."""
import os, re
here = os.path.dirname(os.path.abspath(__file__))
protos = [l.strip() for l in open(os.path.join(here, 'functions.txt')) if l.strip()]
lines = []
for p in protos:
    lines.append(p + ';')
    lines.append(re.sub(r'\bMPI_(\w+)\s*\(', r'PMPI_\1(', p, count=1) + ';')
hdr = os.path.join(here, '..', 'include', 'mpi.h')
text = open(hdr).read()
a = text.index('/* BEGIN GENERATED PROTOTYPES */')
b = text.index('/* END GENERATED PROTOTYPES */')
text = text[:a] + '/* BEGIN GENERATED PROTOTYPES */\n' + '\n'.join(lines) + '\n' + text[b:]
open(hdr, 'w').write(text)
