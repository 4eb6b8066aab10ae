//! A certificate authority made for one test (with `rcgen`), the server and client
//! certificates it issued, and their PEM files, for the TLS collectors of the OTLP tests.

use std::path::PathBuf;

use otel_faas_local::collector::{Collector, CollectorOptions, TlsIdentity};

/// A certificate authority made for one test, the certificates it issued, and their PEM
/// files in a directory of their own.
pub struct TestCa {
    pub dir: PathBuf,
    pub server: TlsIdentity,
}

impl TestCa {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, all from it.
    pub fn new(test: &str) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let ca = Issuer::new(ca_params, ca_key);
        let issue = |name: &str| {
            let key = KeyPair::generate().expect("key");
            let params = CertificateParams::new(vec![name.to_owned()]).expect("params");
            let cert = params.signed_by(&key, &ca).expect("certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) = issue("127.0.0.1");
        let (client_pem, client_key) = issue("otel-faas-function");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("otlp-tls-{test}"));
        std::fs::create_dir_all(&dir).expect("certificate directory");
        for (file, pem) in [
            ("ca.pem", ca_cert.pem()),
            ("client.pem", client_pem),
            ("client.key", client_key),
        ] {
            std::fs::write(dir.join(file), pem).expect("write PEM");
        }
        TestCa {
            dir,
            server: TlsIdentity {
                certificate_pem: server_pem,
                key_pem: server_key,
                client_ca_pem: None,
            },
        }
    }

    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A TLS collector presenting this CA's server certificate; with `mtls`, requiring a
    /// client certificate from this CA.
    pub async fn collector(&self, mtls: bool) -> Collector {
        let mut identity = self.server.clone();
        if mtls {
            identity.client_ca_pem = Some(std::fs::read_to_string(self.file("ca.pem")).unwrap());
        }
        Collector::start_with_options(CollectorOptions {
            tls: Some(identity),
            ..CollectorOptions::default()
        })
        .await
        .expect("TLS collector")
    }
}
