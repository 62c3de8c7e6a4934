import StraitsWire

/// How a gateway cuts a data message larger than a link chunk into two fragments, so that it
/// hands it on as the link delivers it, as a router forwards packets, instead of the whole
/// message after its last byte: the head (all but the last chunk's payload) leaves for the
/// receiver one hop early, as a whole message does, and the tail (the last chunk's payload) as
/// the last byte arrives. The trip after the link is then one chunk's, not the whole message's,
/// and the receiver reduces the head while the tail is on the wire. Two and not a fragment per
/// chunk: every message between processes costs both ends' cores, and on a busy machine many
/// small ones cost more than the trip they save.
///
/// Each fragment is a data message of its own: the header with the fragment flag, `offset` and
/// `length` of its part, and a CRC32C of its own payload where the message had one; a
/// message's fragments are sent in order and cover it exactly (`Protocols/data-frame.md`).
/// Messages in the int8 format travel whole: their scales lead the payload, so a fragment would
/// not be a slice.
public enum GatewayFragments {
    /// The payload bytes of one value on the wire, for the formats that fragment.
    static func valueBytes(_ dtype: DataFrameHeader.DataType) -> Int? {
        switch dtype {
        case .float32: 4
        case .float16, .bfloat16: 2
        case .int8: nil
        }
    }

    /// The values in each fragment of a message of `values` values of `valueBytes` bytes each,
    /// in order (the head, then a chunk's payload), or nil when its payload fits one chunk.
    public static func values(_ values: Int, valueBytes: Int, chunkBytes: Int) -> [Int]? {
        let tail = chunkBytes / valueBytes
        guard tail > 0, values * valueBytes > chunkBytes else { return nil }
        return [values - tail, tail]
    }

    /// The bytes each fragment of a float32 message of `payloadBytes` puts on a link (header
    /// included), or the whole message's when it does not fragment.
    public static func wireSizes(payloadBytes: Int, chunkBytes: Int) -> [Int] {
        guard let parts = values(payloadBytes / 4, valueBytes: 4, chunkBytes: chunkBytes) else {
            return [DataFrameHeader.size + payloadBytes]
        }
        return parts.map { DataFrameHeader.size + $0 * 4 }
    }

    /// A fragment: its header and where its payload lies in the message's payload frame.
    struct Fragment: Equatable {
        var header: DataFrameHeader
        var payload: Range<Int>
    }

    /// The fragments of a message with `header` and a payload of `payloadBytes`, or nil when it
    /// goes whole (it fits one chunk, is int8, or its payload disagrees with its header: the
    /// receiver refuses that, naming it). `checksum` computes a payload range's CRC32C.
    static func split(_ header: DataFrameHeader, payloadBytes: Int, chunkBytes: Int,
                      checksum: (Range<Int>) -> UInt32) -> [Fragment]? {
        guard let valueBytes = valueBytes(header.dtype), header.lengthBytes % 4 == 0,
              Int(header.lengthBytes) / 4 * valueBytes == payloadBytes,
              let parts = values(payloadBytes / valueBytes, valueBytes: valueBytes, chunkBytes: chunkBytes)
        else { return nil }
        var fragments: [Fragment] = []
        var value = 0
        for count in parts {
            var part = header
            part.offsetBytes = header.offsetBytes + UInt64(value * 4)
            part.lengthBytes = UInt64(count * 4)
            part.flags |= DataFrameHeader.Flags.fragment
            let payload = value * valueBytes..<(value + count) * valueBytes
            if header.flags & DataFrameHeader.Flags.checksummed != 0 { part.crc32c = checksum(payload) }
            fragments.append(Fragment(header: part, payload: payload))
            value += count
        }
        return fragments
    }
}
