/// `text` padded with spaces to `width` characters, on the left where `right` (for numbers in
/// a column), else on the right; text already that wide is left as it is.
public func padded(_ text: String, _ width: Int, right: Bool = false) -> String {
    guard text.count < width else { return text }
    let space = String(repeating: " ", count: width - text.count)
    return right ? space + text : text + space
}
