//! The garbage collector and the namespace controller.
//!
//! - Dependents whose owners (by `ownerReferences[].uid`) are all gone are deleted.
//! - An owner deleted with `propagationPolicy=Orphan` carries the `orphan` finalizer: its
//!   dependents lose the ownerReference, then the finalizer is removed (and the owner goes).
//! - An owner deleted with `Foreground` carries `foregroundDeletion`: its dependents are deleted,
//!   and once none is left the finalizer is removed.
//! - A terminating namespace is emptied, then removed.

use serde_json::{Value, json};

use super::rt;
use crate::kube::meta::{
    finalizers, is_terminating, name_of, namespace_of, owner_uids, remove_finalizer, uid_of,
};
use crate::kube::state::Cluster;
use crate::kube::store::{DeleteOptions, Propagation};

fn background() -> DeleteOptions {
    DeleteOptions {
        propagation: Some(Propagation::Background),
        ..DeleteOptions::default()
    }
}

/// One pass.
pub fn reconcile(cluster: &Cluster) {
    let mut store = cluster.store();
    let objects = store.all_objects();
    let dependents_of = |uid: &str| -> Vec<(&'static crate::kube::resources::ResourceType, Value)> {
        objects
            .iter()
            .filter(|(_, o)| owner_uids(o).iter().any(|u| u == uid))
            .cloned()
            .collect()
    };
    for (owner_rt, owner) in objects.iter().filter(|(_, o)| is_terminating(o)) {
        let uid = uid_of(owner).to_string();
        let fins = finalizers(owner);
        if fins.iter().any(|f| f == "orphan") {
            for (drt, d) in dependents_of(&uid) {
                store.modify(drt, namespace_of(&d), name_of(&d), |o| {
                    if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                        if refs.is_empty() {
                            o["metadata"]
                                .as_object_mut()
                                .map(|m| m.remove("ownerReferences"));
                        }
                    }
                });
            }
            store.modify(owner_rt, namespace_of(owner), name_of(owner), |o| {
                remove_finalizer(o, "orphan");
            });
        } else if fins.iter().any(|f| f == "foregroundDeletion") {
            let dependents = dependents_of(&uid);
            if dependents.is_empty() {
                store.modify(owner_rt, namespace_of(owner), name_of(owner), |o| {
                    remove_finalizer(o, "foregroundDeletion");
                });
            }
            for (drt, d) in dependents.into_iter().filter(|(_, d)| !is_terminating(d)) {
                let _ = store.delete(drt, namespace_of(&d), name_of(&d), &background());
            }
        }
    }

    let uids = store.all_uids();
    for (drt, d) in store.all_objects() {
        let owners = owner_uids(&d);
        if !owners.is_empty() && !is_terminating(&d) && owners.iter().all(|u| !uids.contains(u)) {
            let _ = store.delete(drt, namespace_of(&d), name_of(&d), &background());
        }
    }

    let namespaces = rt("", "namespaces");
    for ns in store.list(namespaces, None, None, None) {
        if !is_terminating(&ns) {
            continue;
        }
        let name = name_of(&ns).to_string();
        let content: Vec<_> = store
            .all_objects()
            .into_iter()
            .filter(|(r, o)| r.namespaced && namespace_of(o) == name)
            .collect();
        if content.is_empty() {
            store.modify(namespaces, "", &name, |o| {
                o["spec"]["finalizers"] = json!([])
            });
            store.remove(namespaces, "", &name);
            continue;
        }
        for (r, o) in content.into_iter().filter(|(_, o)| !is_terminating(o)) {
            let _ = store.delete(r, &name, name_of(&o), &background());
        }
    }
}
