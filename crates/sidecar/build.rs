//! Compiles the `.proto` contract under `proto/` with the pure-Rust `protox` (no `protoc` binary) and
//! feeds the descriptors to tonic's prost code generator. Only server stubs are generated: the clients
//! live in TypeScript (`@ku0/native-sidecar`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = "../../proto";
    let files = [
        "ku0/sidecar/v1/control.proto",
        "ku0/tokenizer/v1/tokenizer.proto",
        "ku0/sandbox/v1/sandbox.proto",
        "ku0/storage/v1/storage.proto",
        "ku0/symbolindex/v1/symbolindex.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={root}/{f}");
    }
    let fds = protox::compile(files, [root])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}
