// TapsTraining: one JSON style for every file the product writes.
import Foundation
@_exported import TapsSupport

/// JSON encoder used for every file the product writes: snake_case keys, sorted, pretty-printed.
public func makeJSONEncoder(pretty: Bool = true) -> JSONEncoder {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
}

/// JSON decoder matching ``makeJSONEncoder(pretty:)``.
public func makeJSONDecoder() -> JSONDecoder {
    let d = JSONDecoder()
    d.keyDecodingStrategy = .convertFromSnakeCase
    d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
}
