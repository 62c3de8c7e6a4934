import Foundation

/// A self-contained report page: a heading, a block of text and inline SVG charts, no scripts
/// and nothing fetched, so it opens without a network connection.
enum ReportPage {
    static func html(title: String, heading: String, text: String, charts: [SVGChart], textFirst: Bool) -> String {
        let block = "<pre>\(SVGChart.escape(text))</pre>\n"
        var page = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>\(SVGChart.escape(title))</title>
            <style>body{font-family:sans-serif;margin:24px;color:#222} pre{background:#f6f6f6;padding:12px;font-size:12px} .chart{margin:12px 0}</style>
            </head><body>
            <h1>\(SVGChart.escape(heading))</h1>

            """
        if textFirst { page += block }
        for chart in charts { page += "<div class=\"chart\">\(chart.svg)</div>\n" }
        if !textFirst { page += block }
        return page + "</body></html>\n"
    }

    /// Writes `page` to `target` atomically; returns `target`.
    static func write(_ page: String, to target: String) throws -> String {
        do {
            try Data(page.utf8).write(to: URL(fileURLWithPath: target), options: .atomic)
        } catch {
            throw TelemetryError("cannot write \(target): \(error.localizedDescription)")
        }
        return target
    }
}
