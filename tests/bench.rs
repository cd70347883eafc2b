//! A small configuration of `hearth-bench`, to prove it works (figures come from running it by
//! hand; no timing is asserted here).

#[test]
fn the_benchmark_runs_and_hearth_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench.json");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_hearth-bench"))
        .args([
            "--events",
            "3000",
            "--members",
            "50",
            "--guild-members",
            "300",
            "--store-members",
            "200",
            "--records",
            "20000",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["ingest"]["lost"], 0, "{report}");
    assert_eq!(report["ingest"]["extra"], 0, "{report}");
    let joins = &report["ingest"]["joins"];
    assert!(joins["expected"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(joins["stored"], joins["expected"], "{report}");
    assert!(report["ingest"]["bare_events_per_sec"].as_f64().unwrap() > 0.0);
    assert!(String::from_utf8_lossy(&run.stdout).contains("ingest, events/s"));
    assert!(
        report["reports"]["stats_overview_ms"]["p95"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(report["reports"]["year_report_ms"]["p50"].as_f64().unwrap() > 0.0);
}
