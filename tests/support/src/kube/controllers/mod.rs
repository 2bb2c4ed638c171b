//! The emulated controllers: tokio tasks that wake on every store change (and on a short tick,
//! for time-based transitions) and reconcile the whole store, writing through the same store
//! as the API so that every change is versioned and watched.

mod cron_schedule;
mod cronjobs;
mod garbage;
mod jobs;
mod pods;
mod velero;
mod volumes;
mod workloads;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::TryRecvError;

use super::resources::{self, ResourceType};
use super::state::Cluster;

/// How often controllers re-check time-based transitions when nothing changes.
const TICK: Duration = Duration::from_millis(20);

/// A reconcile pass over the whole cluster.
type Reconcile = Box<dyn FnMut(&Cluster) + Send>;

/// Starts every controller on the current runtime.
pub fn spawn_all(cluster: &Arc<Cluster>) {
    spawn(cluster, Box::new(garbage::reconcile));
    spawn(cluster, Box::new(volumes::reconcile));
    spawn(
        cluster,
        Box::new(pods::PodLifecycle::default().into_reconcile()),
    );
    spawn(cluster, Box::new(jobs::reconcile));
    spawn(cluster, Box::new(cronjobs::reconcile));
    spawn(cluster, Box::new(workloads::reconcile));
    spawn(
        cluster,
        Box::new(velero::Velero::default().into_reconcile()),
    );
}

fn spawn(cluster: &Arc<Cluster>, mut reconcile: Reconcile) {
    let cluster = cluster.clone();
    tokio::spawn(async move {
        let mut events = cluster.store().subscribe();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = events.recv() => {}
                _ = tick.tick() => {}
            }
            // A burst of changes needs one pass, not one per change.
            loop {
                match events.try_recv() {
                    Ok(_) | Err(TryRecvError::Lagged(_)) => continue,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
            }
            reconcile(&cluster);
        }
    });
}

/// A served resource type, by group and plural (the table is static, so this cannot fail for
/// the names the controllers use).
fn rt(group: &str, plural: &str) -> &'static ResourceType {
    let version = "v1";
    resources::by_plural(group, version, plural).expect("controllers use served resources")
}
