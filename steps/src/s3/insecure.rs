//! `insecure: true` on an `s3` connection: the SDK's own HTTP client has no switch to skip
//! certificate verification, so such connections send the SDK's requests through reqwest (rustls
//! with ring, as the `http` connections) with verification off. Only for connections that opt in,
//! which `plan` shows; timeouts come from the SDK's retry and operation settings.

use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use runbook_engine::kind::StepError;

#[derive(Debug, Clone)]
struct Unverified {
    client: reqwest::Client,
}

impl HttpConnector for Unverified {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            let request = http::Request::from_parts(parts, reqwest::Body::wrap(body));
            let request =
                reqwest::Request::try_from(request).map_err(|e| ConnectorError::user(e.into()))?;
            let response = client.execute(request).await.map_err(|e| {
                if e.is_timeout() {
                    ConnectorError::timeout(e.into())
                } else {
                    ConnectorError::io(e.into())
                }
            })?;
            let response: http::Response<reqwest::Body> = response.into();
            let (parts, body) = response.into_parts();
            let response = http::Response::from_parts(parts, SdkBody::from_body_1_x(body));
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// An HTTP client for the SDK that does not verify the server's certificate.
pub fn unverified_http_client(connection: &str) -> Result<SharedHttpClient, StepError> {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| {
            StepError::permanent(format!("connection `{connection}`: HTTP client: {e}"))
        })?;
    let connector = SharedHttpConnector::new(Unverified { client });
    Ok(http_client_fn(move |_settings, _components| {
        connector.clone()
    }))
}
