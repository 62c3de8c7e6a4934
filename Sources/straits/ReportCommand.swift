import ArgumentParser
import Telemetry

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Per-region table of a cluster run, or a sweep's measured-against-model table.",
        discussion: "Prints the table and writes <run-dir>/report.html with charts.")

    @Argument(help: ArgumentHelp("A run directory, or a sweep's --out directory.", valueName: "run-dir"))
    var directory: String

    func run() throws {
        if SweepReport.isSweep(directory) {
            let report = try SweepReport(path: directory)
            print(report.table())
            print("report: \(try report.write())")
        } else {
            let report = try RunReport(path: directory)
            print(report.table())
            print("report: \(try report.write())")
        }
    }
}
