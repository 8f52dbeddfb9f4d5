//! webpki-roots: Mozilla's list compiled into the program; no file or variable changes it.

use super::{CaFile, Engine, Runtime, Tier, Unit};

pub static UNIT: Unit = Unit {
    runtime: Runtime::WebpkiRoots,
    id: "webpki-roots",
    title: "webpki-roots",
    tier: Tier::Core,
    env: &[],
    binaries: &[],
    present_also: None,
    resolve: crate::trust::webpki::resolve,
    ca_file: CaFile::PemCertificates,
    engine: Engine::Webpki,
    profile: None,
    own_ca_variable: None,
    client: None,
};
