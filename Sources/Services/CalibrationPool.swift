import Foundation
import Telemetry
import Transport

/// The machine measurements of a series of runs on one machine, pooled: each run appends what
/// it measured to a file and models with the median of every run's so far, its own included.
///
/// A local cluster's model runs on what the coordinator measures just before the job (the
/// uncontended hop between two processes, the cores' rates and how many threads' worth they
/// give, a message's processor time). On a machine that others share, one such measurement
/// catches a quiet or a busy moment, and the model of that run is off by as much: in one
/// sweep on a shared 2-core machine the cores measured 1.29–1.89 and the hop's copy
/// 0.34–0.62 ns a byte, point to point. The runs of a sweep share the machine and the layout,
/// so the median of theirs is the better estimate of what the next one will meet.
public struct CalibrationPool {
    /// One run's measurement. Fields a run did not measure are nil and left out of the medians.
    public struct Sample: Decodable, Equatable, Sendable {
        public var hopAlphaS: Double?
        public var hopBetaSPerByte: Double?
        public var cores: Double?
        public var reduceSPerByte: Double?
        public var copySPerByte: Double?
        public var checksumSPerByte: Double?
        public var messageCPUS: Double?

        public init(
            hopAlphaS: Double? = nil, hopBetaSPerByte: Double? = nil, cores: Double? = nil,
            reduceSPerByte: Double? = nil,
            copySPerByte: Double? = nil, checksumSPerByte: Double? = nil, messageCPUS: Double? = nil
        ) {
            self.hopAlphaS = hopAlphaS
            self.hopBetaSPerByte = hopBetaSPerByte
            self.cores = cores
            self.reduceSPerByte = reduceSPerByte
            self.copySPerByte = copySPerByte
            self.checksumSPerByte = checksumSPerByte
            self.messageCPUS = messageCPUS
        }

        enum CodingKeys: String, CodingKey {
            case hopAlphaS = "hop_alpha_s"
            case hopBetaSPerByte = "hop_beta_s_per_byte"
            case cores
            case reduceSPerByte = "reduce_s_per_byte"
            case copySPerByte = "copy_s_per_byte"
            case checksumSPerByte = "checksum_s_per_byte"
            case messageCPUS = "message_cpu_s"
        }

        /// The sample as the pool's file and `plan.json` record it (a field not measured: null).
        public var json: JSONValue {
            .object(
                [
                    (CodingKeys.hopAlphaS, hopAlphaS), (.hopBetaSPerByte, hopBetaSPerByte), (.cores, cores),
                    (.reduceSPerByte, reduceSPerByte), (.copySPerByte, copySPerByte),
                    (.checksumSPerByte, checksumSPerByte),
                    (.messageCPUS, messageCPUS),
                ].map { ($0.rawValue, $1.map { .double($0) } ?? .null) })
        }

        /// Each field's median over `samples` (nil where none has it).
        public static func median(of samples: [Sample]) -> Sample {
            func middle(_ field: KeyPath<Sample, Double?>) -> Double? {
                let values = samples.compactMap { $0[keyPath: field] }
                return values.isEmpty ? nil : values.median
            }
            return Sample(
                hopAlphaS: middle(\.hopAlphaS), hopBetaSPerByte: middle(\.hopBetaSPerByte), cores: middle(\.cores),
                reduceSPerByte: middle(\.reduceSPerByte), copySPerByte: middle(\.copySPerByte),
                checksumSPerByte: middle(\.checksumSPerByte), messageCPUS: middle(\.messageCPUS))
        }
    }

    public let path: String
    /// The earlier runs' samples, as the file had them when the pool was opened.
    public let earlier: [Sample]

    /// Reads the pool at `path` (none yet: empty). A line that does not decode is an error that
    /// names the file and line: a pool is written only by coordinators.
    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            earlier = []
            return
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var samples: [Sample] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            do {
                samples.append(try JSONDecoder().decode(Sample.self, from: Data(line.utf8)))
            } catch {
                throw RuntimeError(
                    .invalidArgument, "calibration pool \(path):\(index + 1): not a calibration record (\(error))")
            }
        }
        earlier = samples
    }

    /// What to model with: the median of the earlier samples and `own`.
    public func pooled(with own: Sample) -> Sample { Sample.median(of: earlier + [own]) }

    /// Appends `own` to the file, as one line written at once.
    public func record(_ own: Sample) throws {
        try JSONLWriter(path: path, appending: true).append(own.json)
    }
}
