//! Throw-away certificates for TLS tests (feature `pki`): a folder that is
//! removed when the test ends ([`TestDir`]), certificate authorities made
//! with rcgen ([`Ca`]), server and client certificates signed by them and
//! written as PEM files ([`Pair`]), and `openssl` run in the folder for
//! what rcgen cannot make (RSA keys, X.509 v1 certificates).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A folder for one test's files, removed when it drops.
#[derive(Debug)]
pub struct TestDir(pub PathBuf);

impl TestDir {
    /// An empty folder `<base>/<name>-<pid>-<n>`. An integration test
    /// passes its `env!("CARGO_TARGET_TMPDIR")` as `base`.
    pub fn new_in(base: impl AsRef<Path>, name: &str) -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = base.as_ref().join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|err| panic!("creating {}: {err}", dir.display()));
        TestDir(dir)
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.0
    }

    /// `name` in the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `contents` as `name` in the folder and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
        path
    }

    /// A CA `<name> test CA` whose certificate is `<name>.crt`.
    pub fn ca(&self, name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).unwrap();
        let cert = self.write(&format!("{name}.crt"), issuer.pem());
        Ca { issuer, cert }
    }

    /// Runs `openssl ARGS...` in the folder; fails the test if it fails.
    pub fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.0)
            .stdin(Stdio::null())
            .output()
            .expect("running openssl (is it installed?)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test certificate authority.
#[derive(Debug)]
pub struct Ca {
    pub issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    /// Its certificate, PEM.
    pub cert: PathBuf,
}

/// A certificate and its key, PEM files `<name>.crt` and `<name>.key`.
#[derive(Debug, Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    /// Signs `params` for `key` and writes both in `dir`.
    pub fn sign(
        &self,
        dir: &TestDir,
        name: &str,
        params: rcgen::CertificateParams,
        key: &rcgen::KeyPair,
    ) -> Pair {
        let cert = params.signed_by(key, &self.issuer).unwrap();
        Pair {
            cert: dir.write(&format!("{name}.crt"), cert.pem()),
            key: dir.write(&format!("{name}.key"), key.serialize_pem()),
        }
    }

    /// A server certificate as the lab's `make test-cert` makes it: for
    /// localhost, 127.0.0.1 and ::1, serverAuth, common name `123456`;
    /// `tweak` changes it before it is signed.
    pub fn server(
        &self,
        dir: &TestDir,
        name: &str,
        tweak: impl FnOnce(&mut rcgen::CertificateParams),
    ) -> Pair {
        let mut params = rcgen::CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "123456");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        tweak(&mut params);
        let key = rcgen::KeyPair::generate().unwrap();
        self.sign(dir, name, params, &key)
    }

    /// A client certificate with common name `cn` (clientAuth).
    pub fn client(&self, dir: &TestDir, name: &str, cn: &str) -> Pair {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        self.sign(dir, name, params, &key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_signs_pem_files_in_a_folder_that_goes_away() {
        let dir = TestDir::new_in(std::env::temp_dir(), "testkit-pki");
        let root = dir.root().to_path_buf();
        let ca = dir.ca("ca");
        let server = ca.server(&dir, "server", |p| {
            p.distinguished_name
                .push(rcgen::DnType::CommonName, "tweaked");
        });
        let client = ca.client(&dir, "alice", "alice");
        for path in [&ca.cert, &server.cert, &client.cert] {
            let pem = std::fs::read_to_string(path).unwrap();
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        let key = std::fs::read_to_string(&server.key).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        assert_eq!(server.cert, root.join("server.crt"));
        drop(dir);
        assert!(!root.exists());
    }
}
