//! Certificates and the kubeconfig: a fresh CA per server, a server certificate with the SANs
//! k3s uses (IP 127.0.0.1, localhost, kubernetes), an optional client certificate, and a
//! kubeconfig shaped like k3s's `/etc/rancher/k3s/k3s.yaml`.

use std::sync::Arc;

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};

/// How the generated kubeconfig authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `token:` in the kubeconfig, sent as `Authorization: Bearer`.
    Token(String),
    /// `client-certificate-data`/`client-key-data` signed by the server's CA.
    ClientCert,
}

pub struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key: Vec<u8>,
    client: (String, String),
}

fn named(cn: &str, org: Option<&str>) -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    p.distinguished_name = dn;
    Ok(p)
}

impl Pki {
    pub fn generate() -> Result<Pki> {
        let ca_key = KeyPair::generate()?;
        let mut ca = named("k3s-server-ca", None)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server = CertificateParams::new(vec![
            "kubernetes".to_string(),
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])?;
        server.distinguished_name.push(DnType::CommonName, "k3s");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let client_key = KeyPair::generate()?;
        let mut client = named("system:admin", Some("system:masters"))?;
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &issuer)?;

        Ok(Pki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_der: server_cert.der().clone(),
            server_key: server_key.serialize_der(),
            client: (client_cert.pem(), client_key.serialize_pem()),
        })
    }

    /// TLS config: only the `ring` provider (never a process-wide default, which could clash
    /// with the client side), client certificates verified against the CA but optional so
    /// bearer tokens work too.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut cfg = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server_der.clone(), self.ca_der.clone()], key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    /// A kubeconfig like k3s writes: cluster, user and context all named `default`.
    pub fn kubeconfig(&self, url: &str, auth: &Auth) -> String {
        let b64 = |s: &str| STANDARD.encode(s);
        let user = match auth {
            Auth::Token(t) => format!("    token: {t}\n"),
            Auth::ClientCert => format!(
                "    client-certificate-data: {}\n    client-key-data: {}\n",
                b64(&self.client.0),
                b64(&self.client.1)
            ),
        };
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {url}\n  name: default\n\
             contexts:\n- context:\n    cluster: default\n    user: default\n  name: default\n\
             current-context: default\nkind: Config\npreferences: {{}}\nusers:\n- name: default\n  user:\n{user}",
            ca = b64(&self.ca_pem),
        )
    }
}
