extension Substring {
    /// Without leading and trailing spaces and tabs (nothing else: a session
    /// name may hold other whitespace).
    package func trimmingSpaces() -> Substring {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
