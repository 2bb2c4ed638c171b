//! `influxdb.query`: InfluxQL statements (SHOW DATABASES, DROP/CREATE DATABASE, GRANT, SELECT) on
//! an InfluxDB 1.x server. Statements that change something are POSTed, as the server wants; an
//! error for any statement fails the step with the server's message.

use async_trait::async_trait;
use reqwest::Method;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::connect;

pub struct Query;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryInput {
    /// The `http` connection of the InfluxDB server (`url`, `username`, `password`).
    pub connection: String,
    /// One or more InfluxQL statements, separated by `;`.
    pub query: String,
    /// The database statements such as SELECT run against.
    pub database: Option<String>,
    /// Timestamps as epoch numbers in this unit (`ns`, `u`, `ms`, `s`, `m`, `h`) instead of RFC 3339.
    pub epoch: Option<String>,
}

/// Whether the statements only read: those may go by GET, everything else must be POSTed.
fn read_only(query: &str) -> bool {
    statements(query).all(|s| {
        let first = s.split_whitespace().next().unwrap_or("").to_uppercase();
        (first == "SHOW" || first == "SELECT") && !s.to_uppercase().contains(" INTO ")
    })
}

fn statements(query: &str) -> impl Iterator<Item = &str> {
    query.split(';').map(str::trim).filter(|s| !s.is_empty())
}

fn drops_data(query: &str) -> bool {
    statements(query).any(|s| {
        let first = s.split_whitespace().next().unwrap_or("").to_uppercase();
        first == "DROP" || first == "DELETE"
    })
}

#[async_trait]
impl Kind for Query {
    type Input = QueryInput;
    fn name(&self) -> &'static str {
        "influxdb.query"
    }
    fn about(&self) -> &'static str {
        "Run InfluxQL statements on InfluxDB 1.x (SHOW DATABASES, DROP/CREATE DATABASE, GRANT, SELECT); an error from the server fails the step. Outputs results (the server's array) and series."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["results", "series"]
    }
    fn destructive(&self, input: &QueryInput) -> bool {
        // A templated query may become anything; treat it as destructive unless it plainly is not.
        let q = &input.query;
        drops_data(q)
            || (q.contains("{{")
                && !read_only(q)
                && !q.trim_start().to_uppercase().starts_with("GRANT")
                && !q.trim_start().to_uppercase().starts_with("CREATE"))
    }
    fn idempotent(&self, input: &QueryInput) -> bool {
        // InfluxQL's DDL is idempotent (CREATE of an existing database, DROP of a missing one and a
        // repeated GRANT all succeed); only SELECT ... INTO writes points again.
        !input.query.to_uppercase().contains(" INTO ")
    }
    fn describe(&self, input: &QueryInput) -> String {
        format!("InfluxQL on {}: {}", input.connection, input.query)
    }
    async fn run(&self, ctx: &StepContext, input: QueryInput) -> Result<Value, StepError> {
        let endpoint = connect(ctx, &input.connection)?;
        let method = if read_only(&input.query) {
            Method::GET
        } else {
            Method::POST
        };
        let mut params = vec![("q", input.query.clone())];
        if let Some(db) = &input.database {
            params.push(("db", db.clone()));
        }
        if let Some(epoch) = &input.epoch {
            params.push(("epoch", epoch.clone()));
        }
        let request = if method == Method::POST {
            endpoint.request(method, "query").form(&params)
        } else {
            endpoint.request(method, "query").query(&params)
        };
        let what = format!("InfluxQL `{}`", input.query);
        let reply = endpoint.send(request, &what).await?;
        if !reply.status.is_success() {
            return Err(reply.fail(&what));
        }
        let json = reply.json.ok_or_else(|| {
            StepError::new(format!("{what}: the reply is not JSON: {}", reply.text))
        })?;
        let results = json
            .get("results")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        let mut series = Vec::new();
        let mut errors = Vec::new();
        for (i, result) in results.as_array().into_iter().flatten().enumerate() {
            if let Some(error) = result.get("error").and_then(Value::as_str) {
                let statement = statements(&input.query).nth(i).unwrap_or("");
                errors.push(format!("`{statement}`: {error}"));
            }
            series.extend(
                result
                    .get("series")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        if let Some(error) = json.get("error").and_then(Value::as_str) {
            errors.push(error.to_string());
        }
        if !errors.is_empty() {
            return Err(StepError::permanent(format!(
                "InfluxDB refused {}",
                errors.join("; ")
            )));
        }
        Ok(json!({"results": results, "series": series}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_by_get_and_changes_by_post() {
        assert!(read_only("SHOW DATABASES"));
        assert!(read_only("select * from cpu; show measurements"));
        assert!(!read_only("DROP DATABASE x"));
        assert!(!read_only("SELECT * INTO b FROM a"));
        assert!(!read_only("SHOW DATABASES; GRANT WRITE ON x TO y"));
    }

    fn query(query: &str) -> QueryInput {
        QueryInput {
            connection: "influxdb".into(),
            query: query.into(),
            database: None,
            epoch: None,
        }
    }

    #[test]
    fn drops_are_destructive() {
        let kind = Query;
        assert!(kind.destructive(&query("DROP DATABASE service_cluster")));
        assert!(kind.destructive(&query("drop database {{ item }}")));
        assert!(!kind.destructive(&query("SHOW DATABASES")));
        assert!(!kind.destructive(&query("GRANT WRITE ON {{ item }} TO w")));
    }
}
