//! OpenSearch after a disaster, for the shipped OpenSearch runbooks (and platform/restore-all):
//! the emulator with the config's credentials (`admin` / `secrets.opensearch.adminPassword`, and
//! the `snapshotter` user the backup CronJob uses), the configurer's repository on the
//! OpenSearch bucket holding several snapshots (the newest PARTIAL, the newest SUCCESS one
//! without the audit indices), the log indices lost and a fresh, empty Dashboards index; then
//! assertions on the end state: indices present with the documents of the snapshot restored.

use runbook_testsupport::opensearch::OpenSearchEmulator;

/// The reference config's values (tests/fixtures/ck8s-config-example).
pub const ADMIN_PASSWORD: &str = "test-opensearch-admin-password";
pub const SNAPSHOTTER_PASSWORD: &str = "test-snapshotter-password";
pub const REPOSITORY: &str = "opensearch-snapshots";
pub const BUCKET: &str = "ck8s-test-opensearch";

pub const KUBERNETES: &str = "kubernetes-default-2024.05.31-000001";
pub const KUBEAUDIT: &str = "kubeaudit-default-2024.05.31-000001";
pub const OTHER: &str = "other-default-2024.05.31-000001";
pub const DASHBOARDS: &str = ".kibana_1";
pub const TENANT: &str = ".kibana_92668751_admin_1";

/// The newest SUCCESS snapshot holding every default pattern: what a default restore picks.
pub const EXPECTED: &str = "snapshot-20240602_000000z";
pub const OLDER: &str = "snapshot-20240601_000000z";
pub const PARTIAL: &str = "snapshot-20240602_120000z";
pub const WITHOUT_AUDIT: &str = "snapshot-20240603_000000z";

const DAY: i64 = 86_400_000;
const JUNE_1: i64 = 1_717_200_000_000;

/// Documents per index in a snapshot: (kubernetes, kubeaudit, other, dashboards).
pub fn docs_in(snapshot: &str) -> (u64, u64, u64, u64) {
    match snapshot {
        OLDER => (120, 40, 15, 8),
        EXPECTED => (130, 45, 16, 9),
        PARTIAL => (140, 50, 17, 10),
        WITHOUT_AUDIT => (150, 0, 18, 11),
        other => panic!("no snapshot {other}"),
    }
}

/// A seeded snapshot: name, state, indices with their documents, start time.
type Seeded = (&'static str, &'static str, Vec<(&'static str, u64)>, i64);

/// The snapshots of a healthy cluster's repository, oldest first.
fn snapshots() -> Vec<Seeded> {
    let with = |snapshot: &str, audit: bool| {
        let (k, a, o, d) = docs_in(snapshot);
        let mut indices = vec![(KUBERNETES, k), (OTHER, o), (DASHBOARDS, d), (TENANT, 2)];
        if audit {
            indices.push((KUBEAUDIT, a));
        }
        indices
    };
    vec![
        (OLDER, "SUCCESS", with(OLDER, true), JUNE_1),
        (EXPECTED, "SUCCESS", with(EXPECTED, true), JUNE_1 + DAY),
        (
            PARTIAL,
            "PARTIAL",
            with(PARTIAL, true),
            JUNE_1 + DAY + DAY / 2,
        ),
        (
            WITHOUT_AUDIT,
            "SUCCESS",
            with(WITHOUT_AUDIT, false),
            JUNE_1 + 2 * DAY,
        ),
    ]
}

pub struct OpenSearchWorld {
    pub os: OpenSearchEmulator,
}

impl OpenSearchWorld {
    /// An empty cluster that knows the config's users, with the configurer's repository
    /// registered on the (still empty) OpenSearch bucket.
    pub fn start() -> OpenSearchWorld {
        let os = OpenSearchEmulator::start("admin", ADMIN_PASSWORD);
        os.with(|c| {
            c.add_user("snapshotter", SNAPSHOTTER_PASSWORD);
            c.recovery_polls = 2;
            c.add_repository(REPOSITORY, BUCKET);
        });
        OpenSearchWorld { os }
    }

    /// `opensearch_url=<emulator>`, for `--set`.
    pub fn url_param(&self) -> String {
        format!("opensearch_url={}", self.os.url())
    }

    /// After the disaster: the repository holds the snapshots, the log indices are gone, and
    /// OpenSearch Dashboards has created a fresh, empty `.kibana_1` behind `.kibana`.
    pub fn seed(&self) {
        self.os.with(|c| {
            for (name, state, indices, at) in snapshots() {
                c.add_snapshot(REPOSITORY, name, state, &indices, at);
                c.set_snapshot_aliases(REPOSITORY, name, DASHBOARDS, &[".kibana"]);
                c.set_snapshot_aliases(REPOSITORY, name, TENANT, &[".kibana_92668751_admin"]);
            }
            c.indices.clear();
            c.add_index(DASHBOARDS, 0);
            c.add_alias(DASHBOARDS, ".kibana");
        });
    }

    /// The same snapshots in a bucket no repository points at yet (an off-site copy imported
    /// into the main object store), while the main repository is empty.
    pub fn seed_bucket(&self, bucket: &str) {
        self.os.with(|c| {
            for (name, state, indices, at) in snapshots() {
                c.add_bucket_snapshot(bucket, name, state, &indices, at);
                c.set_snapshot_aliases(bucket, name, DASHBOARDS, &[".kibana"]);
            }
            c.indices.clear();
        });
    }

    /// A new cluster's write index with the name of one in the snapshots, open and written to.
    pub fn seed_write_index(&self, docs: u64) {
        self.os.with(|c| c.add_index(OTHER, docs));
    }

    /// Documents in an index, or None when it is missing, closed or not recovered yet.
    pub fn docs(&self, index: &str) -> Option<u64> {
        self.os.with(|c| {
            c.indices
                .get(index)
                .filter(|i| i.open && i.recovery_polls_left == 0)
                .map(|i| i.docs)
        })
    }

    /// Where an index's data came from (`repository/snapshot`), if a restore made it.
    pub fn restored_from(&self, index: &str) -> Option<String> {
        self.os
            .with(|c| c.indices.get(index).and_then(|i| i.restored_from.clone()))
    }

    /// The log indices are back, open and recovered, with the documents of `snapshot` in
    /// `repository`.
    pub fn assert_restored_from(&self, repository: &str, snapshot: &str) {
        let (k, a, o, _) = docs_in(snapshot);
        for (index, docs) in [(KUBERNETES, k), (KUBEAUDIT, a), (OTHER, o)] {
            assert_eq!(
                self.docs(index),
                Some(docs),
                "{index} restored with the documents of {snapshot}"
            );
            assert_eq!(
                self.restored_from(index).as_deref(),
                Some(format!("{repository}/{snapshot}").as_str()),
                "{index} came from {repository}/{snapshot}"
            );
        }
    }

    /// The default restore's end state: the log indices of the newest complete snapshot.
    pub fn assert_restored(&self) {
        self.assert_restored_from(REPOSITORY, EXPECTED);
        assert_eq!(
            self.docs(DASHBOARDS),
            Some(0),
            "the Dashboards index is left alone unless asked"
        );
        assert!(
            self.os.with(|c| c
                .restores
                .iter()
                .all(|r| r["include_global_state"] == false)),
            "never the global state"
        );
    }

    /// The Dashboards index is the snapshot's (the fresh one deleted first), behind `.kibana`,
    /// and the security plugin's tenant index was not touched.
    pub fn assert_dashboards_restored(&self, snapshot: &str) {
        let (_, _, _, d) = docs_in(snapshot);
        assert_eq!(self.docs(DASHBOARDS), Some(d), "{DASHBOARDS} restored");
        assert_eq!(
            self.restored_from(DASHBOARDS).as_deref(),
            Some(format!("{REPOSITORY}/{snapshot}").as_str())
        );
        self.os.with(|c| {
            assert!(
                c.indices[DASHBOARDS].aliases.contains(".kibana"),
                "the alias came back with it"
            );
            assert!(
                !c.indices.contains_key(TENANT),
                "tenant indices are not restored"
            );
        });
    }
}
