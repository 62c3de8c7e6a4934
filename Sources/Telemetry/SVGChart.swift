import Foundation

/// A line chart as inline SVG: axes with ticks, one coloured line per series, a legend.
/// Self-contained, so a report opens without a network connection.
public struct SVGChart {
    public struct Series {
        public let name: String
        public let points: [(x: Double, y: Double)]
        /// Points only, no line between them.
        public let scatter: Bool
        public init(name: String, points: [(x: Double, y: Double)], scatter: Bool = false) {
            self.name = name
            self.points = points
            self.scatter = scatter
        }
    }

    public let title: String
    public let xLabel: String
    public let yLabel: String
    public let series: [Series]
    /// Log2 x axis (for message sizes).
    public let logX: Bool
    /// Log10 axes on both x and y (for times spanning decades).
    public let logLog: Bool
    /// Log10 y axis only (for losses).
    public let logY: Bool
    /// Log10 x axis in whole decades (for rates).
    public let decadesX: Bool
    public var width = 720.0
    public var height = 320.0
    /// Events on the x axis (faults, losses, recoveries): a dashed vertical line each, named
    /// when pointed at, within the plotted range.
    public var markers: [(x: Double, label: String)] = []

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public init(
        title: String, xLabel: String, yLabel: String, series: [Series], logX: Bool = false, logLog: Bool = false,
        logY: Bool = false, decadesX: Bool = false
    ) {
        self.logY = logY
        self.decadesX = decadesX
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.logX = logX
        self.logLog = logLog
    }

    public var svg: String {
        let left = 70.0
        let right = 160.0
        let top = 36.0
        let bottom = 48.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let all = series.flatMap(\.points).filter {
            $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) && (!logLog || ($0.x > 0 && $0.y > 0))
                && (!logY || $0.y > 0) && (!decadesX || $0.x > 0)
        }
        var out =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        out +=
            "<text x=\"\(Int(width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(Self.escape(title))</text>\n"
        guard !all.isEmpty else {
            out +=
                "<text x=\"\(Int(width / 2))\" y=\"\(Int(height / 2))\" text-anchor=\"middle\" fill=\"#888\">no data in this run</text>\n</svg>"
            return out
        }
        let fx: (Double) -> Double = logLog || decadesX ? { log10($0) } : logX ? { log2($0) } : { $0 }
        let fy: (Double) -> Double = logLog || logY ? { log10($0) } : { $0 }
        var xMin = all.map { fx($0.x) }.min()!
        var xMax = all.map { fx($0.x) }.max()!
        if logLog {
            xMin = min(xMin, all.map { fy($0.y) }.min()!).rounded(.down)
            xMax = max(xMax, all.map { fy($0.y) }.max()!).rounded(.up)
        }
        if decadesX { (xMin, xMax) = (xMin.rounded(.down), xMax.rounded(.up)) }
        if xMax == xMin {
            xMin -= 1
            xMax += 1
        }
        var yMax = logLog ? xMax : Self.niceCeiling(max(all.map(\.y).max()!, 1e-12))
        var yMin = logLog ? xMin : min(0, all.map(\.y).min()!)
        if logY {
            yMin = all.map { log10($0.y) }.min()!.rounded(.down)
            yMax = max(all.map { log10($0.y) }.max()!.rounded(.up), yMin + 1)
        }
        func px(_ x: Double) -> Double { left + (fx(x) - xMin) / (xMax - xMin) * plotWidth }
        func py(_ y: Double) -> Double { top + plotHeight - (fy(y) - yMin) / (yMax - yMin) * plotHeight }

        out +=
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"#444\"/>\n"
        var yTicks: [Double] = []
        if logLog {
            yTicks = stride(from: yMin, through: yMax, by: 1).map { pow(10, $0) }
        } else if logY {
            for decade in stride(from: yMin, through: yMax, by: 1) {
                let multiples: [Double] = decade < yMax ? [1, 2, 5] : [1]
                for multiple in multiples { yTicks.append(multiple * pow(10, decade)) }
            }
        } else {
            yTicks = (0...5).map { yMin + (yMax - yMin) * Double($0) / 5 }
        }
        for value in yTicks {
            let y = py(value)
            out += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotWidth)\" y2=\"\(y)\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(Self.label(value))</text>\n"
        }
        let xTicks: [Double]
        if logLog || decadesX {
            xTicks = stride(from: xMin, through: xMax, by: 1).map { pow(10, $0) }
        } else if logX {
            xTicks = stride(from: xMin.rounded(.up), through: xMax, by: max(1, ((xMax - xMin) / 6).rounded(.up))).map {
                pow(2, $0)
            }
        } else {
            let step = Self.niceCeiling((xMax - xMin) / 6)
            xTicks = stride(from: (xMin / step).rounded(.up) * step, through: xMax + step * 1e-9, by: step).map { $0 }
        }
        for value in xTicks {
            let x = px(value)
            out +=
                "<line x1=\"\(x)\" y1=\"\(top + plotHeight)\" x2=\"\(x)\" y2=\"\(top + plotHeight + 4)\" stroke=\"#444\"/>"
            out +=
                "<text x=\"\(x)\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\">\(logX ? Self.sizeLabel(value) : Self.label(value))</text>\n"
        }
        out +=
            "<text x=\"\(left + plotWidth / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        out +=
            "<text x=\"14\" y=\"\(top + plotHeight / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(top + plotHeight / 2))\">\(Self.escape(yLabel))</text>\n"
        for marker in markers where marker.x.isFinite && fx(marker.x) >= xMin && fx(marker.x) <= xMax {
            let x = Self.coordinate(px(marker.x))
            out +=
                "<line x1=\"\(x)\" y1=\"\(top)\" x2=\"\(x)\" y2=\"\(top + plotHeight)\" stroke=\"#b00\" stroke-dasharray=\"3,3\" stroke-opacity=\"0.6\"><title>\(Self.escape(marker.label))</title></line>\n"
        }
        for (index, line) in series.enumerated() {
            let color = Self.colors[index % Self.colors.count]
            let points = line.points.filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }.sorted {
                $0.x < $1.x
            }
            if !points.isEmpty && line.scatter {
                for point in points {
                    out +=
                        "<circle cx=\"\(Self.coordinate(px(point.x)))\" cy=\"\(Self.coordinate(py(point.y)))\" r=\"3\" fill=\"\(color)\" fill-opacity=\"0.7\"/>"
                }
                out += "\n"
            } else if !points.isEmpty {
                let path = points.map { "\(Self.coordinate(px($0.x))),\(Self.coordinate(py($0.y)))" }.joined(
                    separator: " ")
                out +=
                    "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" points=\"\(path)\"><title>\(Self.escape(line.name))</title></polyline>\n"
                if points.count <= 40 {
                    for point in points {
                        out +=
                            "<circle cx=\"\(Self.coordinate(px(point.x)))\" cy=\"\(Self.coordinate(py(point.y)))\" r=\"2.5\" fill=\"\(color)\"/>"
                    }
                    out += "\n"
                }
            }
            let legendY = top + 8 + Double(index) * 18
            out +=
                "<rect x=\"\(left + plotWidth + 14)\" y=\"\(legendY - 8)\" width=\"12\" height=\"4\" fill=\"\(color)\"/>"
            out += "<text x=\"\(left + plotWidth + 32)\" y=\"\(legendY - 2)\">\(Self.escape(line.name))</text>\n"
        }
        out += "</svg>"
        return out
    }

    static func coordinate(_ value: Double) -> String { String(format: "%.1f", value) }

    static func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    static func label(_ value: Double) -> String {
        if value == 0 { return "0" }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        if abs(value) >= 1 { return String(format: "%.2g", value) }
        return String(format: "%.2g", value)
    }

    static func sizeLabel(_ value: Double) -> String {
        let bytes = Int(value.rounded())
        if bytes >= 1 << 30 { return "\(bytes >> 30)G" }
        if bytes >= 1 << 20 { return "\(bytes >> 20)M" }
        if bytes >= 1 << 10 { return "\(bytes >> 10)K" }
        return "\(bytes)"
    }

    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
