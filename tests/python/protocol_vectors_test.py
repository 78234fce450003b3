"""The worked examples of docs/PROTOCOL.md 6, 7.10 and 9.6, reproduced byte
for byte by the Python package (the same bytes the C++ tests check)."""

import unittest

from netstructer import frames as F
from netstructer import fernet
from netstructer import handshake as H
from netstructer import rpc_wire as W
from netstructer import streams
from netstructer.errors import NetStructerError, StatusCode
from netstructer.keys import parse_key

import testing_support

KEY = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="


def hexbytes(text):
    return bytes.fromhex("".join(text.split()))


class DataFrameExample(unittest.TestCase):
    """Section 6: a DATA frame of "hello", sealed at a given time and IV."""

    WIRE = hexbytes("""
        00 00 00 59
        80
        00 00 00 00 1d c0 9e b0
        00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f
        fd 0d 1b 24 f9 b6 87 dc 0f 59 11 c4 ac 7c 06 86
        16 6e 3b 75 9e 1a 1d 8e 58 83 5d 80 55 22 8e 46
        0b f0 74 c1 3b 26 f0 ab ed 5d d5 9a dc 3d 73 d6
        69 00 b3 bb de e7 f6 16 ff 53 cf 71 a8 00 a6 2b""")

    def test_inner_frame(self):
        self.assertEqual(F.encode_inner(0, 1, F.DATA, F.END_MESSAGE, b"hello"),
                         hexbytes("00 00 00 00 00 00 00 00 00 00 00 01 02 04 00 00"
                                  "68 65 6c 6c 6f"))

    def test_sealed_frame_on_the_wire(self):
        sealer = F.FrameSealer(parse_key(KEY), clock=lambda: 499162800,
                               iv_source=lambda: bytes(range(16)))
        self.assertEqual(sealer.seal(1, F.DATA, F.END_MESSAGE, b"hello",
                                     compressible=True), self.WIRE)

    def test_text_form_of_the_token(self):
        import base64
        self.assertEqual(
            base64.urlsafe_b64encode(self.WIRE[4:]).decode(),
            "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD_0NGyT5tofcD1kRxKx8BoYWbjt1nhodjliDXYBVIo5G"
            "C_B0wTsm8KvtXdWa3D1z1mkAs7ve5_YW_1PPcagApis=")

    def test_opens_to_the_frame(self):
        frame = F.FrameOpener(parse_key(KEY)).open(self.WIRE[4:])
        self.assertEqual((frame.sequence, frame.stream, frame.type, frame.flags,
                          frame.payload), (0, 1, F.DATA, F.END_MESSAGE, b"hello"))

    def test_a_flipped_bit_is_an_invalid_token(self):
        body = bytearray(self.WIRE[4:])
        body[40] ^= 1
        with self.assertRaises(NetStructerError) as e:
            F.FrameOpener(parse_key(KEY)).open(bytes(body))
        self.assertEqual((e.exception.code, e.exception.message),
                         (StatusCode.DATA_LOSS, "invalid token"))

    def test_token_size_formula(self):
        self.assertEqual(fernet.token_size(21), 89)
        self.assertEqual(fernet.token_size(0), 73)


class HandshakeExample(unittest.TestCase):
    """Section 7.10, with the nonces, private keys and time it gives."""

    def setUp(self):
        self.key = parse_key(KEY)
        self.client = H.ClientHandshake(self.key, nonce=bytes(range(0, 32)),
                                        private_bytes=bytes(range(32, 64)),
                                        now=1700000000)
        self.server = H.ServerHandshake([self.key], replay_guard=H.ReplayGuard(),
                                        nonce=bytes(range(64, 96)),
                                        private_bytes=bytes(range(96, 128)),
                                        now=1700000000)

    def test_every_derived_value_and_message(self):
        server_hello = self.server.on_client_hello(self.client.hello())
        finished = self.client.on_server_hello(server_hello)
        self.server.on_client_finished(finished)
        s = self.client.schedule
        self.assertEqual(self.key.raw, hexbytes(
            "73 0f f4 c7 af 3d 46 92 3e 8e d4 51 ee 81 3c 87"
            "f7 90 b0 a2 26 bc 96 a9 2d e4 9b 5e 9c 05 e1 ee"))
        self.assertEqual(self.key.key_id, hexbytes("85 d2 29 2e b3 6c 82 d8"))
        self.assertEqual(H.binder_key(self.key.raw), hexbytes(
            "70 8d 53 c0 d6 0d 73 37 96 de a8 17 a1 27 4e 68"
            "3e 1a 9f c3 0e 23 ac f3 f6 1d df 6e c0 3a c8 d2"))
        self.assertEqual(s.prk, hexbytes(
            "f6 6a 78 a1 33 bd 4e 95 b7 94 79 cb d3 b6 5d d6"
            "6a a0 5d 14 01 fc f0 0c 9c 56 14 0a 3d 5a 31 f1"))
        self.assertEqual(s.th1, hexbytes(
            "4f 46 ec 01 b6 99 82 06 0c 6e 7e 61 70 1a 36 ee"
            "d9 ff 82 c1 4f a0 3d 93 17 33 17 91 5b 5a 7f e0"))
        self.assertEqual(s.server_finished_key, hexbytes(
            "28 f4 cf 29 5f c0 1e ad d2 9a 84 4f 5f e5 1c f3"
            "de 34 44 60 bd 7b 44 a0 37 95 43 52 65 e6 6d 38"))
        self.assertEqual(s.th2, hexbytes(
            "29 ae be 98 dc 9c 19 14 95 bc 53 e1 07 2f 4c ae"
            "5b e9 a3 17 7f a9 50 0d bb 58 76 39 a1 f8 fb 0f"))
        self.assertEqual(s.client_finished_key, hexbytes(
            "75 bd cd 0c fa 1a 64 b7 83 98 51 82 73 41 60 89"
            "28 db 56 3c 93 9b 33 b6 0c 2a 37 63 fc 16 2e fe"))
        self.assertEqual(finished, hexbytes(
            "b7 14 97 44 bf bf 2a 16 2c 57 d5 68 59 dc ed 4d"
            "4e 1d 2a d1 96 46 29 c6 ea 35 2e bc 92 3a dd 2c"))
        self.assertEqual(self.client.c2s.text(), "3emF4yQQ1GsqKvKuOEPNEzXMYzLwtGvzeRAezt4Ubqs=")
        self.assertEqual(self.client.s2c.text(), "fUjSAghqD8m-Cyfk_AM7RMwhazSWFJjqL-WuXSFsYOA=")
        self.assertEqual(self.server.c2s, self.client.c2s)
        self.assertEqual(self.server.s2c, self.client.s2c)
        self.assertEqual(server_hello, hexbytes("""
            4e 53 48 32 01
            40 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f
            50 51 52 53 54 55 56 57 58 59 5a 5b 5c 5d 5e 5f
            67 5d d5 74 ed 77 89 31 0b 3d 2e 76 81 f3 79 0b
            46 6c 77 3b 15 21 fe cf 36 57 79 58 37 1e a5 2f
            5a 4a f2 0b 48 20 06 94 19 44 3c 5f f4 a2 4e fb
            e6 7e 6a 61 45 b4 e7 4a 0e e4 7c 62 24 be 18 9f"""))

    def test_the_clients_first_frame(self):
        from netstructer.handshake_io import _handshake_frame
        self.assertEqual(_handshake_frame(0, F.HANDSHAKE, self.client.hello()), hexbytes("""
            00 00 00 85
            00 00 00 00 00 00 00 00
            00 00 00 00
            09 00 00 00
            4e 53 48 32
            01
            85 d2 29 2e b3 6c 82 d8
            00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f
            10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f
            35 80 72 d6 36 58 80 d1 ae ea 32 9a df 91 21 38
            38 51 ed 21 a2 8e 3b 75 e9 65 d0 d2 cd 16 62 54
            00 00 00 00 65 53 f1 00
            5f 57 53 7a 5f d3 d5 18 4f b3 4e bf 44 c1 1f 25
            ec 4d e8 83 89 0a 29 c2 c2 e3 5b 70 28 b9 a6 eb"""))

    def test_refusal_of_an_unknown_key(self):
        server = H.ServerHandshake([parse_key(H_OTHER_KEY)], replay_guard=H.ReplayGuard(),
                                   now=1700000000)
        with self.assertRaises(NetStructerError) as e:
            server.on_client_hello(self.client.hello())
        self.assertEqual(H.encode_refusal(e.exception.code, e.exception.message),
                         hexbytes("""
            10 74 68 65 20 73 65 72 76 65 72 20 64 69 64 20
            6e 6f 74 20 61 63 63 65 70 74 20 74 68 69 73 20
            6b 65 79"""))

    def test_a_replayed_hello_is_refused_before_any_diffie_hellman(self):
        self.server.on_client_hello(self.client.hello())
        again = H.ServerHandshake([self.key], replay_guard=self.server._guard,
                                  now=1700000000)
        with self.assertRaises(NetStructerError) as e:
            again.on_client_hello(self.client.hello())
        self.assertEqual(e.exception.code, StatusCode.UNAUTHENTICATED)
        self.assertIn("replayed", e.exception.message)

    def test_a_stale_hello_is_refused(self):
        late = H.ServerHandshake([self.key], replay_guard=H.ReplayGuard(),
                                 now=1700000000 + 61)
        with self.assertRaises(NetStructerError) as e:
            late.on_client_hello(self.client.hello())
        self.assertIn("61 s behind", e.exception.message)

    def test_a_version_1_hello_is_told_to_upgrade(self):
        with self.assertRaises(NetStructerError) as e:
            self.server.on_client_hello(b"NSH1" + bytes(73))
        self.assertEqual(e.exception.code, StatusCode.FAILED_PRECONDITION)


H_OTHER_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


CLIENT_HEADERS_96 = hexbytes("""
    00 00 00 1b
    0a 19 2f 67 72 65 65 74 65 72 2e
    47 72 65 65 74 65 72 2f 53 61 79
    48 65 6c 6c 6f
    00 00 00 00 00 00 00 07 03
    0a 05 57 6f 72 6c 64""")

SERVER_TRAILERS_96 = hexbytes("""
    00 00 00 00
    00 00 00 00 00 00 00 0e 03
    0a 0c 48 65 6c 6c 6f 2c 20 57 6f
    72 6c 64""")


class UnaryCallExample(unittest.TestCase):
    """Section 9.6: the payloads of a unary call's two frames, as CallStream
    writes them and as the parts build them."""

    def test_a_unary_call_is_one_frame_each_way(self):
        from netstructer.call_stream import CallStream
        client = testing_support.RecordingConnection()
        stream = CallStream(client, 3, "client")
        request = bytes.fromhex("0a05576f726c64")
        stream.send(F.HEADERS, W.encode_prefixed(
            W.CallHeaders(method="/greeter.Greeter/SayHello")), request, end_stream=True)
        self.assertEqual(len(client.frames), 1)
        stream_id, type, flags, payload, _ = client.frames[0]
        self.assertEqual((stream_id, type, flags), (3, F.HEADERS, 0x06))
        self.assertEqual(bytes(payload), CLIENT_HEADERS_96)

        server = testing_support.RecordingConnection()
        answer = CallStream(server, 3, "server")
        answer.send(F.TRAILERS, W.encode_prefixed(W.trailers_for(StatusCode.OK, "")),
                    b"\x0a\x0cHello, World")
        self.assertEqual(len(server.frames), 1)
        stream_id, type, flags, payload, _ = server.frames[0]
        self.assertEqual((stream_id, type, flags), (3, F.TRAILERS, 0x06))
        self.assertEqual(bytes(payload), SERVER_TRAILERS_96)

    def test_a_compressible_message_never_shares_the_headers_frame(self):
        from netstructer.call_stream import CallStream
        client = testing_support.RecordingConnection()
        stream = CallStream(client, 5, "client")
        stream.send(F.HEADERS, W.encode_prefixed(W.CallHeaders(method="/a.B/C")),
                    b"a" * 5000, end_stream=True)
        types = [(f[1], f[2], f[4]) for f in client.frames]
        self.assertEqual(types, [(F.HEADERS, 0, False),
                                 (F.DATA, F.END_MESSAGE | F.END_STREAM, True)])

    def test_the_clients_headers(self):
        headers = W.CallHeaders(method="/greeter.Greeter/SayHello")
        request = bytes.fromhex("0a05576f726c64")  # HelloRequest{name: "World"}
        payload = (W.encode_prefixed(headers)
                   + streams.message_header(streams.KIND_METHOD, len(request)) + request)
        self.assertEqual(payload, hexbytes("""
            00 00 00 1b
            0a 19 2f 67 72 65 65 74 65 72 2e
            47 72 65 65 74 65 72 2f 53 61 79
            48 65 6c 6c 6f
            00 00 00 00 00 00 00 07 03
            0a 05 57 6f 72 6c 64"""))

    def test_the_servers_trailers(self):
        reply = b"\x0a\x0cHello, World"
        payload = (W.encode_prefixed(W.trailers_for(StatusCode.OK, ""))
                   + streams.message_header(streams.KIND_METHOD, len(reply)) + reply)
        self.assertEqual(payload, hexbytes("""
            00 00 00 00
            00 00 00 00 00 00 00 0e 03
            0a 0c 48 65 6c 6c 6f 2c 20 57 6f
            72 6c 64"""))
        trailers, rest = W.parse_prefixed(payload, W.CallTrailers)
        self.assertEqual((trailers.code, trailers.message), (0, ""))
        self.assertEqual(rest[9:], reply)


if __name__ == "__main__":
    testing_support.main()
