//! The bundled example for the README's quick start: prints a greeting,
//! the platform it runs on and whether a panic can be caught (unwinding
//! works in the static binary).

fn main() {
    // Keep the expected panic's message off stderr.
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(|| panic!("expected panic")).is_err();
    println!(
        "hello from a static {} binary (panic caught: {caught})",
        std::env::consts::ARCH
    );
}
