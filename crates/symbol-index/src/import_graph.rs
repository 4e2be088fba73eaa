//! Import edges between files (paths already resolved), reverse-edge BFS over u32 file ids.
//!
//! Orders match the runtime's `ImportGraph` (JS `Set` insertion order): a file's imports in first-seen
//! order, a file's direct dependents in the order they (last) added the edge, transitive dependents in BFS
//! visit order. As in the runtime, a file on an import cycle (or importing itself) is among its own
//! dependents.

use std::collections::HashMap;

use crate::Error;

#[derive(Default)]
pub struct ImportGraph {
    ids: HashMap<Box<str>, u32>,
    paths: Vec<Box<str>>,
    /// Outgoing edges; `None` = the file has no import entry.
    imports: Vec<Option<Vec<u32>>>,
    /// Reverse edges in insertion order.
    dependents: Vec<Vec<u32>>,
    stamp: Vec<u32>,
    epoch: u32,
}

impl ImportGraph {
    pub fn new() -> Self {
        Self::default()
    }

    fn intern(&mut self, path: &str) -> u32 {
        if let Some(&id) = self.ids.get(path) {
            return id;
        }
        let id = self.paths.len() as u32;
        self.paths.push(path.into());
        self.ids.insert(path.into(), id);
        self.ensure(id);
        id
    }

    fn ensure(&mut self, id: u32) {
        let need = id as usize + 1;
        if self.imports.len() < need {
            self.imports.resize(need, None);
            self.dependents.resize(need, Vec::new());
            self.stamp.resize(need, 0);
        }
    }

    // ---- Id API: callers that intern paths themselves (the TS adapter) use dense u32 file ids. ----

    /// Replaces the outgoing edges of file `id` (duplicates collapse to their first occurrence).
    ///
    /// Ids are dense: a call may only name ids below `known + 1 + imports.len()` (`known` = ids seen
    /// so far), i.e. it can introduce at most as many new files as it names. An id beyond that is an
    /// [`Error::InvalidArg`] — tables grow with the input actually given, never from a caller-chosen
    /// number (an id near 2^32 would otherwise allocate tens of GiB).
    pub fn update_ids(&mut self, id: u32, imports: &[u32]) -> Result<(), Error> {
        let bound = self
            .imports
            .len()
            .saturating_add(1)
            .saturating_add(imports.len());
        let max = imports.iter().copied().chain([id]).max().unwrap_or(id);
        if max as usize >= bound {
            return Err(Error::InvalidArg(format!(
                "file id {max} is not dense: this call may name ids below {bound}"
            )));
        }
        self.update_ids_unchecked(id, imports);
        Ok(())
    }

    fn update_ids_unchecked(&mut self, id: u32, imports: &[u32]) {
        self.ensure(id);
        if let Some(&max) = imports.iter().max() {
            self.ensure(max);
        }
        self.remove_id(id);
        let epoch = self.next_epoch();
        let mut list = Vec::with_capacity(imports.len());
        for &t in imports {
            if self.stamp[t as usize] != epoch {
                self.stamp[t as usize] = epoch;
                list.push(t);
            }
        }
        for &t in &list {
            self.dependents[t as usize].push(id);
        }
        self.imports[id as usize] = Some(list);
    }

    /// Drops the outgoing edges of file `id`.
    pub fn remove_ids(&mut self, id: u32) {
        if (id as usize) < self.imports.len() {
            self.remove_id(id);
        }
    }

    pub fn imports_of(&self, id: u32) -> &[u32] {
        self.imports
            .get(id as usize)
            .and_then(|i| i.as_deref())
            .unwrap_or_default()
    }

    pub fn dependents_of(&mut self, id: u32, transitive: bool) -> Vec<u32> {
        if id as usize >= self.dependents.len() {
            return Vec::new();
        }
        if transitive {
            self.bfs(id)
        } else {
            self.dependents[id as usize].clone()
        }
    }

    fn next_epoch(&mut self) -> u32 {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.epoch = 1;
        }
        self.epoch
    }

    /// Replaces the file's outgoing edges (duplicates collapse to their first occurrence).
    pub fn update_file_imports<'a>(
        &mut self,
        path: &str,
        imports: impl IntoIterator<Item = &'a str>,
    ) {
        let id = self.intern(path);
        let targets: Vec<u32> = imports.into_iter().map(|p| self.intern(p)).collect();
        self.update_ids_unchecked(id, &targets);
    }

    /// Drops the file's outgoing edges only.
    pub fn remove_file(&mut self, path: &str) {
        if let Some(&id) = self.ids.get(path) {
            self.remove_id(id);
        }
    }

    fn remove_id(&mut self, id: u32) {
        let Some(list) = self.imports[id as usize].take() else {
            return;
        };
        for t in list {
            let deps = &mut self.dependents[t as usize];
            if let Some(at) = deps.iter().position(|&d| d == id) {
                deps.remove(at);
            }
        }
    }

    pub fn get_imports(&self, path: &str) -> Vec<&str> {
        let Some(&id) = self.ids.get(path) else {
            return Vec::new();
        };
        self.imports[id as usize]
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|&t| &*self.paths[t as usize])
            .collect()
    }

    pub fn get_dependents(&mut self, path: &str, transitive: bool) -> Vec<&str> {
        let Some(&id) = self.ids.get(path) else {
            return Vec::new();
        };
        let ids = self.dependents_of(id, transitive);
        ids.into_iter().map(|d| &*self.paths[d as usize]).collect()
    }

    /// The runtime's BFS (visited marked on dequeue); the start file is listed when a cycle reaches it.
    fn bfs(&mut self, start: u32) -> Vec<u32> {
        let epoch = self.next_epoch();
        let mut queue: Vec<u32> = self.dependents[start as usize].clone();
        let mut out = Vec::new();
        let mut i = 0;
        while i < queue.len() {
            let cur = queue[i];
            i += 1;
            if self.stamp[cur as usize] == epoch {
                continue;
            }
            self.stamp[cur as usize] = epoch;
            out.push(cur);
            for &n in &self.dependents[cur as usize] {
                if self.stamp[n as usize] != epoch {
                    queue.push(n);
                }
            }
        }
        out
    }

    pub fn file_count(&self) -> usize {
        self.imports.iter().filter(|i| i.is_some()).count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;

    #[test]
    fn bfs_and_self_cycle() {
        let mut g = ImportGraph::new();
        g.update_file_imports("/b", ["/a"]);
        g.update_file_imports("/c", ["/b", "/b"]);
        g.update_file_imports("/a", ["/c", "/a"]);
        assert_eq!(g.get_imports("/c"), vec!["/b"]);
        // "/a" imports itself and lies on the cycle a <- b <- c <- a: the runtime lists it.
        assert_eq!(g.get_dependents("/a", false), vec!["/b", "/a"]);
        assert_eq!(g.get_dependents("/a", true), vec!["/b", "/a", "/c"]);
        g.remove_file("/c");
        assert_eq!(g.get_dependents("/a", true), vec!["/b", "/a"]);
        g.update_file_imports("/a", ["/c"]);
        assert_eq!(g.get_dependents("/a", true), vec!["/b"]);
        g.update_file_imports("/c", ["/b"]);
        assert_eq!(g.get_dependents("/a", true), vec!["/b", "/c", "/a"]);
        assert!(g.get_dependents("/zzz", true).is_empty());
    }

    #[test]
    fn ids_are_dense_and_bounded_by_the_call() {
        let mut g = ImportGraph::new();
        assert!(g.update_ids(0, &[1, 2]).is_ok());
        // 3 known ids; this call names 2 → it may introduce ids 3 and 4, not 5
        assert!(g.update_ids(3, &[5]).is_err());
        assert!(g.update_ids(3, &[4]).is_ok());
        let e = g.update_ids(u32::MAX - 1, &[]).unwrap_err();
        assert_eq!(e.code(), "ERR_KU0_INVALID_ARG");
        assert!(g.update_ids(1, &[u32::MAX]).is_err());
        assert!(g.update_ids(100, &[]).is_err());
        // a rejected call changes nothing
        assert_eq!(g.imports_of(1), &[] as &[u32]);
        assert_eq!(g.dependents_of(4, false), vec![3]);
        // queries of unknown ids never allocate
        assert!(g.dependents_of(u32::MAX, true).is_empty());
        assert!(g.imports_of(u32::MAX).is_empty());
        g.remove_ids(u32::MAX);
    }
}
