//! `cargo bench`: one criterion group per bench filter, one benchmark per engine (native
//! included), each timing the full stream lifecycle on the filter's first workload. Cells that
//! fail to load or are not conformant are reported and skipped.

use criterion::{Criterion, criterion_group, criterion_main};
use filterbench_harness::{catalog, conformance, price, run};

fn lifecycle(c: &mut Criterion) {
    // The engine matrix's filters; the price-list probes are measured by `filterbench run`.
    let filters: Vec<_> = catalog::filters()
        .into_iter()
        .filter(|f| !price::is_probe(f.name))
        .collect();
    let subjects = match run::subjects_skipping_missing_toolchains(&filters) {
        Ok((subjects, left_out)) => {
            for (name, why) in left_out {
                eprintln!("skipping {name}: {why}");
            }
            subjects
        }
        Err(error) => panic!("cannot build the bench filters: {error}"),
    };
    for subject in &subjects {
        let workload =
            catalog::workload(subject.filter.workloads[0]).expect("catalog workloads exist");
        let expected =
            (subject.filter.expect)(&workload).expect("default workloads have expectations");
        let mut group = c.benchmark_group(subject.filter.name);
        for entry in filterbench_engines::available() {
            let prepared = filterbench_engines::create(entry.name)
                .map_err(|e| e.to_string())
                .and_then(|engine| engine.load(&subject.source).map_err(|e| e.to_string()))
                .and_then(|module| {
                    run::start_instance(module.as_ref(), &subject.filter).map_err(|e| e.to_string())
                });
            let mut instance = match prepared {
                Ok(instance) => instance,
                Err(error) => {
                    eprintln!("skipping {}/{}: {error}", subject.filter.name, entry.name);
                    continue;
                }
            };
            match conformance::run_and_check(instance.as_mut(), &workload.exchange, &expected) {
                Ok(diff) if diff.is_empty() => {}
                Ok(diff) => {
                    eprintln!(
                        "skipping {}/{}: not conformant: {}",
                        subject.filter.name,
                        entry.name,
                        diff.join("; ")
                    );
                    continue;
                }
                Err(error) => {
                    eprintln!("skipping {}/{}: {error}", subject.filter.name, entry.name);
                    continue;
                }
            }
            group.bench_function(entry.name, |b| {
                b.iter(|| {
                    instance
                        .run_stream(&workload.exchange)
                        .expect("lifecycle failed during the benchmark")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);
