//! Python requests (urllib3 2): `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, else certifi's
//! bundle; Python's `ssl` underneath, with the subject CN never checked.

use std::path::Path;

use super::{CaFile, Engine, EnvVar, HostCheck, OsslApp, PartialChain, Runtime, Tier, Unit};
use crate::diagnose::openssl::OsslErr;
use crate::world::{FileType, World};

pub static UNIT: Unit = Unit {
    runtime: Runtime::PythonRequests,
    id: "python-requests",
    title: "Python requests",
    tier: Tier::Extra,
    env: &[EnvVar::marks("REQUESTS_CA_BUNDLE"), EnvVar::reads("CURL_CA_BUNDLE")],
    binaries: &[],
    present_also: Some(installed),
    resolve: crate::trust::extra::python_requests,
    // verify=PATH: load_verify_locations.
    ca_file: CaFile::OpensslCafile,
    engine: Engine::OpensslApp(&APP),
    profile: Some(crate::detect::Kind::Python),
    own_ca_variable: Some("REQUESTS_CA_BUNDLE for requests"),
    client: None,
};

static APP: OsslApp = OsslApp {
    host_check: HostCheck::ByOpenssl,
    partial_chain: PartialChain::Never,
    no_partial_wildcards: true,
    // urllib3 2 sets hostname_checks_common_name = False.
    never_check_subject: true,
    reports_last_error: false,
    strict: None,
    security_level: None,
    message,
};

/// The exception a requests program prints.
fn message(e: &OsslErr, name: &str, p: &crate::profiles::Profile) -> String {
    format!(
        "requests.exceptions.SSLError: HTTPSConnectionPool(host='{name}', …): Max retries exceeded with url: … \
         (Caused by SSLError(SSLCertVerificationError(1, '{}')))",
        super::python::message(e, name, p)
    )
}

/// The requests package in a Python package directory.
fn installed(world: &World) -> Option<String> {
    crate::trust::extra::site_packages(world)
        .into_iter()
        .map(|d| d.join("requests"))
        .find(|d| world.file_type(d).ok() == Some(FileType::Dir))
        .map(|d| format!("{} is present", crate::trust::loader::disp(Path::new(&d))))
}
