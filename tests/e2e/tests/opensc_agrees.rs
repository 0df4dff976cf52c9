//! An independent reader of the virtual card: OpenSC's IAS/ECC driver, written against real CPx
//! cards, must find the same authentication certificate as `cpx-connect`.

use std::process::Command;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cpx_e2e::{pcscd, wait_for_card, Host, SLOT_PORTS, SLOT_READERS};
use cpx_virtual_card::{pcscd_test_lock, shared, vpcd, Holder, VirtualCard};

/// Runs an OpenSC tool; pcscd may briefly refuse a connection while it polls the new card.
fn opensc(program: &str, arguments: &[&str]) -> String {
    let mut last = String::new();
    for _ in 0..3 {
        let output = Command::new(program)
            .args(arguments)
            .output()
            .unwrap_or_else(|e| {
                panic!("{program} must be installed (apt-get install opensc): {e}")
            });
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            return last;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("{program} {arguments:?} failed: {last}");
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    BASE64.decode(body).expect("PEM body")
}

#[test]
fn pkcs15_tool_reads_the_certificate_the_host_returns() {
    let _lock = pcscd_test_lock().expect("pcscd lock");
    pcscd::ensure_running();
    let card = shared(VirtualCard::cps3(Holder::Martin));
    let _inserted = vpcd::insert(card.clone(), SLOT_PORTS[0]).expect("insert");
    wait_for_card(SLOT_READERS[0], true);

    let mut host = Host::spawn();
    let answer = host.command("certificates");
    let from_host = BASE64
        .decode(
            answer["result"]["certificates"][0]["certificate"]
                .as_str()
                .expect("a certificate"),
        )
        .expect("base64");

    let listing = opensc("pkcs15-tool", &["--reader", "0", "--list-certificates"]);
    assert!(
        listing.contains("Certificat d'Authentification CPS"),
        "{listing}"
    );
    // The authentication certificate's PKCS#15 iD, as OpenSC reports it.
    let id = listing
        .split("X.509 Certificate [Certificat d'Authentification CPS]")
        .nth(1)
        .and_then(|section| section.lines().find(|l| l.trim_start().starts_with("ID")))
        .and_then(|line| line.split(':').nth(1))
        .map(|id| id.trim().to_owned())
        .expect("an ID line");
    let pem = opensc("pkcs15-tool", &["--reader", "0", "--read-certificate", &id]);
    assert_eq!(
        pem_to_der(&pem),
        from_host,
        "OpenSC and cpx-connect read the same DER"
    );
    assert_eq!(from_host, card.lock().unwrap().auth_certificate_der());
}
