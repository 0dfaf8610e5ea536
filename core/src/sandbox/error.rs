//! Every way the container engine can fail Self-Harness, with a message that names what
//! failed and, where there is one, what to do about it. An episode that meets one while it
//! runs ends as an infrastructure error, never as the harness's failure.

use std::time::Duration;

/// What can go wrong between Self-Harness and the container engine.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "cannot reach the Docker engine at {endpoint}: {source}\n  \
         Is dockerd running? Start it (e.g. `dockerd &`) or point DOCKER_HOST at a running engine."
    )]
    Unreachable { endpoint: String, source: bollard::errors::Error },

    #[error(
        "base image {image} is served by the local image {base}, which is not built yet\n  \
         Build the local stand-ins with `self-harness images build`"
    )]
    MissingBaseImage { image: String, base: String },

    #[error(
        "base image {image} is not available locally, no registry can be reached, and no stand-in is declared for it\n  \
         Add a pattern to STAND_INS in core/src/sandbox/standins.rs, or load the image with `docker load`"
    )]
    NoStandIn { image: String },

    #[error("building the image for {context} failed: {message}{log_tail}")]
    Build { context: String, message: String, log_tail: String },

    #[error("building the image for {context} took longer than its build timeout of {timeout:?}")]
    BuildTimeout { context: String, timeout: Duration },

    #[error("the container {container} is gone: {message}")]
    ContainerGone { container: String, message: String },

    #[error("the agent's terminal pane failed: {0}")]
    Pane(String),

    #[error("the driver failed: {0}")]
    Driver(String),

    #[error("docker engine error: {0}")]
    Docker(#[from] bollard::errors::Error),

    #[error("{0}")]
    Io(#[from] std::io::Error),
}
