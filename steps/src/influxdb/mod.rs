//! InfluxDB 1.x kinds, over the HTTP API of an `http` connection.

pub mod query;
