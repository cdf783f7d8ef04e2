// Op preconditions that keep their message in release builds.
//
// `Swift.precondition` still checks in -O builds but drops the message: a bad shape stops with
// only "precondition failure", naming neither the op nor the shapes. These module-level functions
// shadow the standard library's inside `Tensors`, so every existing call site reports
// "[op] message" through `fatalError`, which prints in -O builds as well.

/// Stops with `message` when `condition` is false, in every build configuration.
@inline(__always)
func precondition(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

/// Stops with `message`, in every build configuration.
func preconditionFailure(
    _ message: @autoclosure () -> String = String(), file: StaticString = #fileID,
    line: UInt = #line
) -> Never {
    fatalError(message(), file: file, line: line)
}
