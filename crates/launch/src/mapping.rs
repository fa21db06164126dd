//! The `PMI_process_mapping` value, encoded as MPICH Hydra and Slurm do:
//! `(vector,(start_node,num_nodes,ranks_per_node),...)`, a list of blocks that the
//! reader repeats until every rank has a node. Nodes are numbered by distinct host in
//! order of first appearance.

/// Node index of every rank: distinct hosts numbered in order of first appearance.
pub fn node_ids(hosts: &[String]) -> Vec<usize> {
    let mut seen: Vec<&str> = Vec::new();
    hosts
        .iter()
        .map(|h| match seen.iter().position(|s| *s == h) {
            Some(i) => i,
            None => {
                seen.push(h);
                seen.len() - 1
            }
        })
        .collect()
}

type Block = (usize, usize, usize);

/// Expands blocks as MPICH's reader does (cyclically, until `n` ranks).
fn expand(blocks: &[Block], n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    if blocks.iter().all(|&(_, count, per)| count == 0 || per == 0) {
        return out;
    }
    'outer: loop {
        for &(start, count, per) in blocks {
            for node in start..start + count {
                for _ in 0..per {
                    if out.len() == n {
                        break 'outer;
                    }
                    out.push(node);
                }
            }
        }
    }
    out
}

/// The mapping string for ranks placed on `nodes` (node index per rank); the shortest
/// prefix of blocks whose repetition reproduces the placement.
pub fn process_mapping(nodes: &[usize]) -> String {
    // Runs of consecutive ranks on one node, then runs of consecutive nodes with the
    // same run length merged into one block.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &n in nodes {
        match runs.last_mut() {
            Some((node, count)) if *node == n => *count += 1,
            _ => runs.push((n, 1)),
        }
    }
    let mut blocks: Vec<Block> = Vec::new();
    for (node, count) in runs {
        match blocks.last_mut() {
            Some((start, num, per)) if *per == count && *start + *num == node => *num += 1,
            _ => blocks.push((node, 1, count)),
        }
    }
    let k = (1..=blocks.len())
        .find(|&k| expand(&blocks[..k], nodes.len()) == nodes)
        .unwrap_or(blocks.len());
    let mut s = String::from("(vector");
    for (start, num, per) in &blocks[..k] {
        s.push_str(&format!(",({start},{num},{per})"));
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(hosts: &[&str]) -> String {
        let h: Vec<String> = hosts.iter().map(|s| s.to_string()).collect();
        process_mapping(&node_ids(&h))
    }

    #[test]
    fn known_encodings() {
        assert_eq!(map(&["a", "a", "a", "a"]), "(vector,(0,1,4))");
        assert_eq!(map(&["a"]), "(vector,(0,1,1))");
        // srun -N3 -n4 (block): Slurm's value
        assert_eq!(map(&["a", "a", "b", "c"]), "(vector,(0,1,2),(1,2,1))");
        // round-robin over two hosts repeats one block
        assert_eq!(map(&["a", "b", "a", "b"]), "(vector,(0,2,1))");
        assert_eq!(map(&["a", "b", "a"]), "(vector,(0,2,1))");
        assert_eq!(map(&["a", "a", "b", "b"]), "(vector,(0,2,2))");
        assert_eq!(map(&["b", "a", "b"]), "(vector,(0,2,1))");
    }

    #[test]
    fn every_encoding_expands_back() {
        let cases: [&[usize]; 4] = [
            &[0, 0, 1, 0, 2],
            &[0, 1, 1, 0],
            &[0, 1, 2, 0, 1, 2, 0],
            &[0],
        ];
        for nodes in cases {
            let s = process_mapping(nodes);
            let blocks: Vec<Block> = s
                .trim_start_matches("(vector,")
                .trim_end_matches(')')
                .split("),(")
                .map(|b| {
                    let v: Vec<usize> = b
                        .trim_matches(|c| c == '(' || c == ')')
                        .split(',')
                        .map(|x| x.parse().unwrap())
                        .collect();
                    (v[0], v[1], v[2])
                })
                .collect();
            assert_eq!(expand(&blocks, nodes.len()), nodes, "{s}");
        }
    }
}
