# A framed-echo client written the way the classic tutorials write one:
# struct.pack(FMT, len(header)) + a JSON header + the body, and the reply
# read the same way. FMT is '>i' (network order) or 'i' (native order, the
# classic form; pair it with `netlab serve framed --native-endian`).
import json
import socket
import struct
import sys

host, port, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def recv_exact(sock, n):
    data = b''
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError('server closed after %d of %d bytes' % (len(data), n))
        data += chunk
    return data


client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.settimeout(10)
client.connect((host, port))
messages = [b'hello', b'', u'ni hao \u4f60\u597d'.encode('utf-8'), b'x' * 1000000]
for msg in messages:
    header = json.dumps({'data_size': len(msg), 'file_name': 'a.txt'}).encode('utf-8')
    client.send(struct.pack(fmt, len(header)))
    client.send(header)
    client.sendall(msg)
    header_len = struct.unpack(fmt, recv_exact(client, 4))[0]
    reply_header = json.loads(recv_exact(client, header_len).decode('utf-8'))
    body = recv_exact(client, reply_header['data_size'])
    print('%s %d' % ('same' if body == msg else 'DIFFERENT', len(body)))
client.close()
