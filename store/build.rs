//! The migrations are embedded by `sqlx::migrate!`: rebuild when they change
//! (stable Rust does not track the folder otherwise).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
