# A remote-command client as the classic tutorials write one: it sends a
# bare command in one send(), no newline, and reads the reply framed as
# struct.pack(FMT, len(header)) + JSON header + output. FMT is '>i' or the
# classic native 'i' (pair it with `netlab serve cmd --native-endian`).
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
for cmd in ['echo hello world', 'big 1000000', 'ls; rm -rf /', 'date']:
    client.send(cmd.encode('utf-8'))
    header_len = struct.unpack(fmt, recv_exact(client, 4))[0]
    header = json.loads(recv_exact(client, header_len).decode('utf-8'))
    output = recv_exact(client, header['data_size'])
    first = output.decode('utf-8').split('\n')[0]
    print('%s %s %d %s' % (cmd.split()[0], header['status'], len(output), first))
client.close()
