//! Step kinds for runbook, one module each, registered by [`registry`].

pub mod approve;
pub mod assert;
pub mod command;
pub mod http;
pub mod influxdb;
pub mod k8s;
pub mod opensearch;
pub mod report;
pub mod s3;
pub mod sleep;
pub mod tls_hint;
pub mod velero;

use runbook_engine::kind::Registry;

/// Every step kind this build knows.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .register(command::Command)
        .register(approve::Approve)
        .register(sleep::Sleep)
        .register(assert::Assert)
        .register(report::Report)
        .register(s3::list::List)
        .register(s3::latest::Latest)
        .register(s3::get::Get)
        .register(s3::put::Put)
        .register(s3::copy::Copy { sync: false })
        .register(s3::copy::Copy { sync: true })
        .register(opensearch::repository::Repository)
        .register(opensearch::snapshots::Snapshots)
        .register(opensearch::restore::Restore)
        .register(opensearch::delete_index::DeleteIndex)
        .register(http::request::Request)
        .register(influxdb::query::Query)
        .register(k8s::apply::Apply)
        .register(k8s::delete::Delete)
        .register(k8s::get::Get)
        .register(k8s::wait::Wait)
        .register(k8s::patch::Patch)
        .register(k8s::scale::Scale)
        .register(k8s::job_from_cronjob::JobFromCronJob)
        .register(k8s::exec::Exec)
        .register(k8s::logs::Logs)
        .register(velero::restore::Restore)
        .register(velero::backup::Backup)
        .register(velero::backups::Backups)
        .register(velero::backup_location::BackupLocation);
    registry
}
