package IoT::WebSocket;

# A WebSocket (RFC 6455) client for the tests, on a raw IO::Socket::INET so
# that a test can send anything: unmasked frames, reserved bits, bad
# lengths, a frame cut into single bytes.
#
#   my $ws = IoT::WebSocket->connect(port => $t->port,
#                                    path => "/collections/$cid/from",
#                                    token => $tok);
#   $ws->{status} == 101 or diag $ws->{body};
#   $ws->send_frame(opcode => 9, payload => 'hi');    # masked ping
#   my $f = $ws->recv_frame;    # {fin, rsv, opcode, masked, payload}
#   my $c = $ws->wait_close;    # {code, reason}, skipping other frames
#   ok($ws->wait_eof, 'the server closed the connection');

use strict;
use warnings;

use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64 decode_base64);
use Time::HiRes ();

our $TIMEOUT = $ENV{IOT_TEST_VALGRIND} ? 60 : 10;
our $GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

use constant {
    CONT => 0, TEXT => 1, BINARY => 2, CLOSE => 8, PING => 9, PONG => 10,
};

sub accept_for {
    my ($key) = @_;
    return encode_base64(sha1($key . $GUID), '');
}

# connect and send the handshake; the answer's status, headers and body are
# in the object.  Options:
#   port, path, token (X-API-Token), headers => {name => value or undef to
#   leave a default header out}, key, version, method, http ('1.1'),
#   extra (bytes sent right behind the handshake), rcvbuf (SO_RCVBUF set
#   before connecting), raw (the whole request, as is)
sub connect {
    my ($class, %o) = @_;

    my $s;

    if ($o{rcvbuf}) {
        # SO_RCVBUF must be set before the connection is made
        $s = IO::Socket::INET->new(Proto => 'tcp') or return undef;
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', $o{rcvbuf}))
            or die "setsockopt: $!";
        my $addr = Socket::pack_sockaddr_in($o{port},
                                            Socket::inet_aton('127.0.0.1'));
        $s->connect($addr) or return undef;
    } else {
        $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                   PeerPort => $o{port},
                                   Proto    => 'tcp',
                                   Timeout  => $TIMEOUT);
    }

    return undef unless $s;
    binmode $s;

    my $self = bless { sock => $s, buf => '', eof => 0 }, $class;

    my $key = exists $o{key} ? $o{key}
                             : encode_base64(join('', map { chr rand 256 }
                                                      1 .. 16), '');
    $self->{key} = $key;

    my $req;
    if (defined $o{raw}) {
        $req = $o{raw};
    } else {
        my %h = (
            'Host'                  => "127.0.0.1:$o{port}",
            'Upgrade'               => 'websocket',
            'Connection'            => 'Upgrade',
            'Sec-WebSocket-Version' => exists $o{version} ? $o{version} : 13,
            'Sec-WebSocket-Key'     => $key,
        );
        $h{'X-API-Token'} = $o{token} if defined $o{token};
        my %extra = %{ $o{headers} || {} };
        @h{ keys %extra } = values %extra;
        $req = sprintf "%s %s HTTP/%s\r\n", $o{method} || 'GET', $o{path},
                       $o{http} || '1.1';
        for my $k (sort keys %h) {
            next unless defined $h{$k};
            $req .= "$k: $h{$k}\r\n";
        }
        $req .= "\r\n";
    }
    $req .= $o{extra} if defined $o{extra};

    $self->send_raw($req);

    # the answer's head
    my $deadline = Time::HiRes::time() + $TIMEOUT;
    while ($self->{buf} !~ /\r\n\r\n/) {
        last unless $self->_fill($deadline);
    }

    my ($head, $rest) = split /\r\n\r\n/, $self->{buf}, 2;
    $self->{buf} = $rest // '';
    $self->{raw_head} = $head // '';

    my %hd;
    my @lines = split /\r\n/, $head // '';
    my $first = shift @lines // '';
    $self->{status} = $first =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0;
    $self->{status_line} = $first;
    for my $l (@lines) {
        $hd{ lc $1 } = $2 if $l =~ /^([^:]+):\s*(.*?)\s*$/;
    }
    $self->{headers} = \%hd;

    if ($self->{status} != 101) {
        # an HTTP answer: its body (Content-Length)
        my $len = $hd{'content-length'} // 0;
        while (length $self->{buf} < $len) {
            last unless $self->_fill($deadline);
        }
        $self->{body} = substr($self->{buf}, 0, $len, '');
    }

    return $self;
}

sub sock { $_[0]{sock} }

sub upgraded {
    my ($self) = @_;
    return $self->{status} == 101
        && ($self->{headers}{'sec-websocket-accept'} // '')
           eq accept_for($self->{key});
}

sub send_raw {
    my ($self, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($self->{sock}, $bytes, length($bytes) - $off, $off);
        return 0 unless defined $n;
        $off += $n;
    }
    return 1;
}

# a frame as bytes: opcode, payload, fin (1), rsv (0..7), mask (1),
# len (override the length field), len16 and len64 (a 16-bit or 64-bit
# length field whatever the length), mask_key
sub frame {
    my (%o) = @_;
    my $payload = $o{payload} // '';
    my $fin  = exists $o{fin}  ? $o{fin}  : 1;
    my $mask = exists $o{mask} ? $o{mask} : 1;
    my $rsv  = $o{rsv} // 0;
    my $len  = $o{len} // length $payload;

    my $b = chr(($fin ? 0x80 : 0) | (($rsv & 7) << 4) | ($o{opcode} & 0x0f));
    my $m = $mask ? 0x80 : 0;
    if ($o{len64}) {
        $b .= chr($m | 127) . pack('Q>', $len);
    } elsif ($o{len16}) {
        $b .= chr($m | 126) . pack('n', $len);
    } elsif ($len < 126) {
        $b .= chr($m | $len);
    } elsif ($len < 65536) {
        $b .= chr($m | 126) . pack('n', $len);
    } else {
        $b .= chr($m | 127) . pack('Q>', $len);
    }
    if ($mask) {
        my $key = $o{mask_key} // join('', map { chr rand 256 } 1 .. 4);
        $b .= $key;
        my $k = substr($key x (int(length($payload) / 4) + 1), 0,
                       length $payload);
        $payload = $payload ^ $k;
    }
    return $b . $payload;
}

sub send_frame {
    my ($self, %o) = @_;
    return $self->send_raw(frame(%o));
}

sub send_text  { $_[0]->send_frame(opcode => TEXT,   payload => $_[1]) }
sub send_ping  { $_[0]->send_frame(opcode => PING,   payload => $_[1]) }

sub send_close {
    my ($self, $code, $reason) = @_;
    my $p = defined $code ? pack('n', $code) . ($reason // '') : '';
    return $self->send_frame(opcode => CLOSE, payload => $p);
}

# read more into the buffer; false on EOF or at the deadline
sub _fill {
    my ($self, $deadline) = @_;
    return 0 if $self->{eof};
    my $left = $deadline - Time::HiRes::time();
    return 0 if $left <= 0;
    my $rin = '';
    vec($rin, fileno($self->{sock}), 1) = 1;
    my $n = select(my $rout = $rin, undef, undef, $left);
    return 0 unless $n && $n > 0;
    my $got = sysread($self->{sock}, my $chunk, 65536);
    if (!$got) {
        $self->{eof} = 1;
        return 0;
    }
    $self->{buf} .= $chunk;
    return 1;
}

# the next frame: {fin, rsv, opcode, masked, payload[, code, reason]}, or
# undef on EOF or timeout (then $self->{eof} tells which)
sub recv_frame {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // $TIMEOUT);

    while (1) {
        my $f = $self->_parse;
        return $f if $f;
        return undef unless $self->_fill($deadline);
    }
}

sub _parse {
    my ($self) = @_;
    my $b = \$self->{buf};
    return undef if length $$b < 2;
    my ($b0, $b1) = unpack 'CC', $$b;
    my $len = $b1 & 0x7f;
    my $off = 2;
    if ($len == 126) {
        return undef if length $$b < 4;
        $len = unpack 'n', substr($$b, 2, 2);
        $off = 4;
    } elsif ($len == 127) {
        return undef if length $$b < 10;
        $len = unpack 'Q>', substr($$b, 2, 8);
        $off = 10;
    }
    my $masked = $b1 & 0x80 ? 1 : 0;
    my $key = '';
    if ($masked) {
        return undef if length $$b < $off + 4;
        $key = substr($$b, $off, 4);
        $off += 4;
    }
    return undef if length $$b < $off + $len;
    my $payload = substr($$b, $off, $len);
    substr($$b, 0, $off + $len, '');
    if ($masked) {
        my $k = substr($key x (int($len / 4) + 1), 0, $len);
        $payload ^= $k;
    }
    my $f = { fin => $b0 >> 7, rsv => ($b0 >> 4) & 7, opcode => $b0 & 0x0f,
              masked => $masked, payload => $payload };
    if ($f->{opcode} == CLOSE && $len >= 2) {
        $f->{code} = unpack 'n', $payload;
        $f->{reason} = substr($payload, 2);
    }
    return $f;
}

# frames until a close frame (returned, with {skipped => [frames]}) or
# EOF/timeout (undef)
sub wait_close {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // $TIMEOUT);
    my @skipped;
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        my $f = $left > 0 ? $self->recv_frame($left) : undef;
        return undef unless $f;
        if ($f->{opcode} == CLOSE) {
            $f->{skipped} = \@skipped;
            return $f;
        }
        push @skipped, $f;
    }
}

# true when the server closes the connection (anything before is dropped)
sub wait_eof {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // $TIMEOUT);
    while (!$self->{eof}) {
        $self->{buf} = '';
        last unless $self->_fill($deadline);
    }
    return $self->{eof};
}

sub close {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    $self->{sock} = undef;
}

1;
