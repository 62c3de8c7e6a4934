import ArgumentParser
import Telemetry

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Per-region table of a cluster run, a sweep's measured-against-model table, or a simulate sweep's.",
        discussion: "Prints the table and writes <run-dir>/report.html with charts.")

    @Argument(
        help: ArgumentHelp("A run directory, or a sweep's or simulate sweep's --out directory.", valueName: "run-dir"))
    var directory: String

    func run() throws {
        if SimulateReport.isSimulateSweep(directory) {
            let report = try SimulateReport(path: directory)
            print(report.table())
            print("report: \(try report.write())")
        } else if SweepReport.isSweep(directory) {
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
