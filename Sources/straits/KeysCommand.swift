import ArgumentParser
import Foundation
import Transport

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make a cluster's CurveZMQ keys.",
        discussion: """
            Writes DIR/cluster.key (the key pair every binding socket presents), DIR/member.key (the \
            key pair every connecting socket presents) and DIR/authorized_keys (the client public keys \
            the cluster admits), readable by the owner only. Give the directory to every process with \
            --keys DIR: CURVE then encrypts every control, data and WAN socket, and a ZAP handler \
            admits only the keys in authorized_keys. Whoever holds the directory is of the cluster.
            """)

    @Argument(help: ArgumentHelp("Where to write the keys.", valueName: "dir"))
    var directory: String

    @Flag(help: "Replace keys already there.")
    var force = false

    func run() throws {
        for name in ["cluster.key", "member.key", "authorized_keys"]
        where FileManager.default.fileExists(atPath: directory + "/" + name) && !force {
            throw ValidationError("\(directory)/\(name) exists; --force replaces the cluster's keys")
        }
        let keys = try ClusterKeys.generate()
        try keys.write(to: directory)
        print("wrote \(directory)/cluster.key, member.key and authorized_keys (server key \(keys.server.publicKey))")
        print("give every process --keys \(directory)")
    }
}
