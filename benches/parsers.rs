//! Criterion benchmarks of the hot paths (placeholder filled in by the benchmark work).

use criterion::{Criterion, criterion_group, criterion_main};

fn noop(c: &mut Criterion) {
    c.bench_function("noop", |b| b.iter(|| std::hint::black_box(1 + 1)));
}

criterion_group!(benches, noop);
criterion_main!(benches);
