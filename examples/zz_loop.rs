//! temp
fn main() {
    let pool = tidebuf::Pool::new();
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    for _ in 0..n {
        let mut b = pool.alloc(std::hint::black_box(64));
        b.extend_from_slice(&[1]);
        std::hint::black_box(&b);
    }
}
