// straits: the command-line front door. `straits --help` lists the commands, and
// `straits COMMAND --help` each one's flags.
import ArgumentParser

@main
struct Straits: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "straits",
        abstract: "Measure what slow links between data centers do to distributed training.",
        discussion: """
            The cluster itself runs as straits-coordinator, one straits-gateway per region and one \
            straits-worker per host (Deploy/local-cluster.sh starts them all on this machine).
            """,
        subcommands: [
            BenchCommand.self, SweepCommand.self, ReportCommand.self, TopologyCommand.self, JobCommand.self,
            KubernetesCommand.self, KeysCommand.self, SimulateCommand.self, FaultCommand.self,
            BenchWorkerCommand.self,
        ])
}
