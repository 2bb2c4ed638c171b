//! Watches: event types, resumption, and the 410 Gone path that makes kube's watcher relist.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;

use super::{client, run};
use crate::kube::KubeEmulator;

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"watched": "yes"}}, "data": {"k": "v"}}),
    )
    .unwrap()
}

#[test]
fn watch_reports_added_modified_deleted_and_bookmarks() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<ConfigMap> = Api::namespaced(client(&k8s).await, "default");
        let rv = api
            .list(&Default::default())
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        let params = WatchParams::default().labels("watched=yes").timeout(5);
        let mut stream = api.watch(&params, &rv).await.unwrap().boxed();
        api.create(&PostParams::default(), &cm("one"))
            .await
            .unwrap();
        api.patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "w"}})),
        )
        .await
        .unwrap();
        // Dropping the label makes it leave the selector: a DELETED for this watch.
        api.create(&PostParams::default(), &cm("two"))
            .await
            .unwrap();
        api.patch(
            "two",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"watched": null}}})),
        )
        .await
        .unwrap();
        api.delete("one", &DeleteParams::default()).await.unwrap();
        let mut seen = Vec::new();
        let mut bookmark = false;
        while seen.len() < 5 {
            let event = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            match event {
                WatchEvent::Added(o) => seen.push(("ADDED", o.metadata.name.unwrap())),
                WatchEvent::Modified(o) => seen.push(("MODIFIED", o.metadata.name.unwrap())),
                WatchEvent::Deleted(o) => seen.push(("DELETED", o.metadata.name.unwrap())),
                WatchEvent::Bookmark(_) => bookmark = true,
                WatchEvent::Error(e) => panic!("{e:?}"),
            }
        }
        let expected = [
            ("ADDED", "one"),
            ("MODIFIED", "one"),
            ("ADDED", "two"),
            ("DELETED", "two"),
            ("DELETED", "one"),
        ];
        assert_eq!(seen, expected.map(|(a, b)| (a, b.to_string())));
        // Bookmarks come once a second; wait for one.
        while !bookmark {
            match tokio::time::timeout(Duration::from_secs(3), stream.try_next())
                .await
                .unwrap()
                .unwrap()
            {
                Some(WatchEvent::Bookmark(b)) => {
                    assert!(
                        b.metadata.resource_version.parse::<u64>().unwrap()
                            >= rv.parse::<u64>().unwrap()
                    );
                    bookmark = true;
                }
                Some(_) => {}
                None => panic!("stream ended before a bookmark"),
            }
        }
    });
}

#[test]
fn watch_from_a_compacted_version_gets_410_expired() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<ConfigMap> = Api::namespaced(client(&k8s).await, "default");
        let old = api
            .list(&Default::default())
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        api.create(&PostParams::default(), &cm("one"))
            .await
            .unwrap();
        k8s.compact_history();
        let mut stream = api
            .watch(&WatchParams::default(), &old)
            .await
            .unwrap()
            .boxed();
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Error(e) => {
                assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
                assert!(
                    e.message
                        .starts_with(&format!("too old resource version: {old} (")),
                    "{}",
                    e.message
                );
            }
            other => panic!("expected ERROR, got {other:?}"),
        }
    });
}

#[test]
fn watcher_sees_changes_and_relists_after_410() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<ConfigMap> = Api::namespaced(client(&k8s).await, "default");
        api.create(&PostParams::default(), &cm("before"))
            .await
            .unwrap();
        let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
        let mut next = async || {
            tokio::time::timeout(Duration::from_secs(10), events.next())
                .await
                .expect("watcher event in time")
                .expect("watcher stream continues")
        };
        let mut initial = Vec::new();
        loop {
            match next().await.unwrap() {
                watcher::Event::Init => {}
                watcher::Event::InitApply(o) => initial.push(o.metadata.name.unwrap()),
                watcher::Event::InitDone => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(initial, ["before"]);
        api.create(&PostParams::default(), &cm("during"))
            .await
            .unwrap();
        match next().await.unwrap() {
            watcher::Event::Apply(o) => assert_eq!(o.metadata.name.as_deref(), Some("during")),
            other => panic!("unexpected {other:?}"),
        }
        api.delete("before", &DeleteParams::default())
            .await
            .unwrap();
        match next().await.unwrap() {
            watcher::Event::Delete(o) => assert_eq!(o.metadata.name.as_deref(), Some("before")),
            other => panic!("unexpected {other:?}"),
        }
        // History compacted and the connection dropped: the watcher resumes from its last
        // resourceVersion, gets 410, and relists.
        // The resourceVersion is global: another resource's change moves it past the watcher's
        // last seen version, and compaction then leaves the watcher behind.
        k8s.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "elsewhere"}}));
        k8s.compact_history();
        k8s.close_watches();
        api.create(&PostParams::default(), &cm("after"))
            .await
            .unwrap();
        let mut saw_gone = false;
        let mut relisted = Vec::new();
        loop {
            match next().await {
                Err(watcher::Error::WatchError(e)) => {
                    assert_eq!(e.code, 410);
                    saw_gone = true;
                }
                Err(other) => panic!("unexpected error {other:?}"),
                Ok(watcher::Event::Init) => relisted.clear(),
                Ok(watcher::Event::InitApply(o)) => relisted.push(o.metadata.name.unwrap()),
                Ok(watcher::Event::InitDone) => break,
                Ok(other) => panic!("unexpected {other:?}"),
            }
        }
        assert!(saw_gone, "the watcher was told 410");
        if !relisted.iter().any(|n| n == "after") {
            // Created after the relist: it arrives on the new watch.
            match next().await.unwrap() {
                watcher::Event::Apply(o) => relisted.push(o.metadata.name.unwrap()),
                other => panic!("unexpected {other:?}"),
            }
        }
        relisted.sort();
        assert_eq!(relisted, ["after", "during"]);
    });
}

#[test]
fn streaming_list_watcher_gets_initial_events_then_changes() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<ConfigMap> = Api::namespaced(client(&k8s).await, "default");
        api.create(&PostParams::default(), &cm("existing"))
            .await
            .unwrap();
        let mut events = watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
        let mut initial = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                watcher::Event::Init => {}
                watcher::Event::InitApply(o) => initial.push(o.metadata.name.unwrap()),
                watcher::Event::InitDone => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(initial, ["existing"]);
        api.create(&PostParams::default(), &cm("new"))
            .await
            .unwrap();
        match tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            watcher::Event::Apply(o) => assert_eq!(o.metadata.name.as_deref(), Some("new")),
            other => panic!("unexpected {other:?}"),
        }
    });
    let streamed = k8s
        .requests()
        .into_iter()
        .any(|r| r.query_param("sendInitialEvents").as_deref() == Some("true"));
    assert!(streamed, "kube asked for a streaming list");
}
