//! The `latchgate-mcp` binary: the gate's actions as MCP tools over stdio.
//! Everything lives in the library (`latchgate::mcp`); nothing here pulls in
//! the gate or wasmtime, so the linker leaves them out.

fn main() {
    std::process::exit(latchgate::mcp::main());
}
