//! Waiting for an object, kube-rs runtime style: a watch on the one object (relisting after
//! `410 Gone` or a dropped stream, which the watcher does itself), judged on every change, with a
//! deadline.

use std::fmt::Debug;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher;
use runbook_engine::kind::StepError;
use serde::de::DeserializeOwned;

/// What a look at the object concluded.
pub enum Verdict<T> {
    /// Not there yet.
    Pending,
    /// The wait is over.
    Done(T),
    /// The object reached a state the wait can never recover from.
    Failed(StepError),
}

/// Watches `name` through `api` until `judge` says done or failed, or `timeout` passes.
/// `judge` sees `None` while the object does not exist.
pub async fn watch_until<K, T>(
    api: Api<K>,
    name: &str,
    timeout: Duration,
    what: &str,
    mut judge: impl FnMut(Option<&K>) -> Verdict<T>,
) -> Result<T, StepError>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut last_error: Option<String> = None;
    let watch = async {
        let mut stream = watcher::watch_object(api, name).boxed();
        loop {
            match stream.try_next().await {
                Ok(Some(object)) => match judge(object.as_ref()) {
                    Verdict::Pending => {}
                    Verdict::Done(t) => return Ok(t),
                    Verdict::Failed(e) => return Err(e),
                },
                Ok(None) => return Err(StepError::new(format!("the watch on {what} ended"))),
                // The watcher re-lists on the next poll; pause so a persistent error (the
                // server down, a 403) does not spin, and name it if the deadline passes.
                Err(e) => {
                    last_error = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    };
    let outcome = tokio::time::timeout(timeout, watch).await;
    match outcome {
        Ok(result) => result,
        Err(_) => Err(StepError::new(format!(
            "timed out after {} waiting for {what}{}",
            runbook_engine::duration::format_duration(timeout),
            last_error
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        ))),
    }
}
