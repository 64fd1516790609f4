/// A kind of failure of one module's error type (`Domain`): a name that reads in messages, and
/// extensible without breaking callers that switch over the codes they know.
///
/// Each error type names its codes in an extension, `extension ErrorCode where Domain ==
/// StoreError { static let noSpace = … }`, so codes of different modules never mix.
public struct ErrorCode<Domain>: Hashable, Sendable, CustomStringConvertible {
    private let name: String

    package init(_ name: String) {
        self.name = name
    }

    public var description: String { name }
}
