//! The dependency graph of a program's steps: cycle detection that names the whole cycle,
//! waves of steps that can run in parallel, ancestry for template references, and the
//! critical path for reports.

use petgraph::algo::{has_path_connecting, tarjan_scc};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

/// Nodes are step indices `0..n`; an edge `a -> b` means `b` needs `a`.
#[derive(Debug, Clone)]
pub struct Dag {
    graph: DiGraph<usize, ()>,
}

impl Dag {
    pub fn new(needs: &[Vec<usize>]) -> Self {
        let mut graph = DiGraph::with_capacity(needs.len(), needs.iter().map(Vec::len).sum());
        for i in 0..needs.len() {
            graph.add_node(i);
        }
        for (step, deps) in needs.iter().enumerate() {
            for &dep in deps {
                graph.add_edge(NodeIndex::new(dep), NodeIndex::new(step), ());
            }
        }
        Dag { graph }
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Every cycle as the list of steps around it, first step repeated at the end.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut cycles = Vec::new();
        for component in tarjan_scc(&self.graph) {
            let self_loop =
                component.len() == 1 && self.graph.contains_edge(component[0], component[0]);
            if component.len() > 1 || self_loop {
                cycles.push(self.cycle_through(&component));
            }
        }
        cycles.sort();
        cycles
    }

    /// A concrete cycle inside a strongly connected component, in dependency order.
    fn cycle_through(&self, component: &[NodeIndex]) -> Vec<usize> {
        let start = *component.iter().min().expect("non-empty component");
        let mut path = vec![start];
        let mut current = start;
        loop {
            // Follow edges backwards (step -> what it needs) so the cycle reads `a needs b needs c`.
            let next = self
                .graph
                .edges_directed(current, petgraph::Direction::Incoming)
                .map(|e| e.source())
                .filter(|n| component.contains(n))
                .min_by_key(|n| (path.contains(n) && *n != start, n.index()))
                .expect("a node of a cycle has a predecessor in it");
            if next == start || path.contains(&next) {
                let from = path.iter().position(|n| *n == next).unwrap_or(0);
                let mut cycle: Vec<usize> = path[from..].iter().map(|n| n.index()).collect();
                cycle.push(next.index());
                return cycle;
            }
            path.push(next);
            current = next;
        }
    }

    /// Whether `ancestor` must finish before `step` starts.
    pub fn is_ancestor(&self, ancestor: usize, step: usize) -> bool {
        ancestor != step
            && has_path_connecting(
                &self.graph,
                NodeIndex::new(ancestor),
                NodeIndex::new(step),
                None,
            )
    }

    pub fn needs(&self, step: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(step), petgraph::Direction::Incoming)
            .map(|n| n.index())
    }

    pub fn dependents(&self, step: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(step), petgraph::Direction::Outgoing)
            .map(|n| n.index())
    }

    /// Steps in an order where every step comes after what it needs (the graph must be acyclic).
    pub fn topological(&self) -> Vec<usize> {
        petgraph::algo::toposort(&self.graph, None)
            .expect("validated graphs are acyclic")
            .into_iter()
            .map(|n| n.index())
            .collect()
    }

    /// Waves: wave 0 needs nothing; a step's wave is one more than its latest need's.
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let mut level = vec![0usize; self.len()];
        for step in self.topological() {
            level[step] = self.needs(step).map(|n| level[n] + 1).max().unwrap_or(0);
        }
        let depth = level.iter().max().map_or(0, |m| m + 1);
        let mut waves = vec![Vec::new(); depth];
        for (step, l) in level.into_iter().enumerate() {
            waves[l].push(step);
        }
        waves
    }

    /// The chain of steps with the greatest total weight (e.g. duration), first step first.
    pub fn critical_path(&self, weight: impl Fn(usize) -> f64) -> Vec<usize> {
        let order = self.topological();
        let mut best = vec![0.0f64; self.len()];
        let mut previous: Vec<Option<usize>> = vec![None; self.len()];
        for &step in &order {
            let (from, base) = self
                .needs(step)
                .map(|n| (Some(n), best[n]))
                .fold((None, 0.0), |acc, x| if x.1 > acc.1 { x } else { acc });
            best[step] = base + weight(step);
            previous[step] = from;
        }
        let Some(mut step) = (0..self.len()).max_by(|a, b| best[*a].total_cmp(&best[*b])) else {
            return Vec::new();
        };
        let mut path = vec![step];
        while let Some(p) = previous[step] {
            path.push(p);
            step = p;
        }
        path.reverse();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_whole_cycle() {
        // 0 needs 2, 1 needs 0, 2 needs 1; 3 needs 0 (outside the cycle)
        let dag = Dag::new(&[vec![2], vec![0], vec![1], vec![0]]);
        assert_eq!(dag.cycles(), vec![vec![0, 2, 1, 0]]);
        let self_loop = Dag::new(&[vec![0]]);
        assert_eq!(self_loop.cycles(), vec![vec![0, 0]]);
    }

    #[test]
    fn waves_and_ancestry() {
        // 0, 1 independent; 2 needs both; 3 needs 2
        let dag = Dag::new(&[vec![], vec![], vec![0, 1], vec![2]]);
        assert!(dag.cycles().is_empty());
        assert_eq!(dag.waves(), vec![vec![0, 1], vec![2], vec![3]]);
        assert!(dag.is_ancestor(0, 3));
        assert!(!dag.is_ancestor(3, 0));
        assert!(!dag.is_ancestor(0, 1));
    }

    #[test]
    fn critical_path_follows_the_heaviest_chain() {
        let dag = Dag::new(&[vec![], vec![], vec![0, 1], vec![2]]);
        let weights = [1.0, 5.0, 1.0, 1.0];
        assert_eq!(dag.critical_path(|s| weights[s]), vec![1, 2, 3]);
    }
}
