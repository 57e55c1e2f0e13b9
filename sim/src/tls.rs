//! HTTPS for [`Sim::start_tls`](crate::Sim::start_tls): a rustls server
//! configuration (aws-lc-rs provider) built from PEM, and a [`TlsListener`]
//! that axum serves the same router over.
//!
//! Handshakes run on their own tasks, so a client that stalls or refuses
//! the certificate never holds up the others; completed ones are handed to
//! axum through a channel. Each handshake is counted in the stats
//! (`tls_handshakes`, `tls_handshake_failures`), which lets a test see that
//! a client refused the certificate without sending a request. Only
//! HTTP/1.1 is offered by ALPN, as the router is served with axum's HTTP/1
//! support only.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::Shared;

/// A client must complete its handshake within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server configuration for the certificate chain (leaf first) and its
/// private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC), with rustls's safe
/// default protocol versions and the aws-lc-rs provider.
pub(crate) fn server_config(cert_pem: &str, key_pem: &str) -> anyhow::Result<Arc<ServerConfig>> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("reading the TLS certificate chain (PEM)")?;
    if certs.is_empty() {
        bail!("the TLS certificate PEM holds no CERTIFICATE block");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .context("reading the TLS private key (PEM: PKCS#8, RSA or EC)")?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("configuring TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("using the TLS certificate and private key (do they match?)")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepted TLS connections, for `axum::serve`.
pub(crate) struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`. Must run inside the server's runtime.
    pub(crate) fn new(tcp: TcpListener, config: Arc<ServerConfig>, shared: Arc<Shared>) -> io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let (tx, incoming) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), shared, tx));
        Ok(TlsListener { incoming, local_addr })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    while !tx.is_closed() {
        let (stream, addr) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Such as too many open files: wait instead of spinning.
                eprintln!("sf-sim: accept error: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, shared, tx) = (acceptor.clone(), shared.clone(), tx.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    shared.lock().stats.tls_handshakes += 1;
                    let _ = tx.send((tls, addr)).await;
                }
                // Refused certificate, plain HTTP, closed early or too slow.
                Ok(Err(_)) | Err(_) => shared.lock().stats.tls_handshake_failures += 1,
            }
        });
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The accept loop ended (its runtime is shutting down).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("../../fixtures/tls/test-only-server.pem");
    const KEY: &str = include_str!("../../fixtures/tls/test-only-server.key");
    const CA_KEY: &str = include_str!("../../fixtures/tls/test-only-ca.key");

    #[test]
    fn builds_from_the_fixtures() {
        let config = server_config(CERT, KEY).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn rejects_bad_material() {
        let err = |cert: &str, key: &str| format!("{:#}", server_config(cert, key).unwrap_err());
        assert!(err("", KEY).contains("no CERTIFICATE"), "{}", err("", KEY));
        assert!(err(CERT, "").contains("private key"), "{}", err(CERT, ""));
        assert!(err(CERT, CA_KEY).contains("do they match"), "{}", err(CERT, CA_KEY));
    }
}
