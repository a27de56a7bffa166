package IoT::Radius;

# RADIUS helpers for the t/3x-radius*.t tests: a raw client written from
# RFC 2865/2866/2869 (packets built and replies checked byte by byte, with
# Digest::MD5 from Debian's perl), a wrapper around FreeRADIUS' radclient,
# and a reader of the $iot_radius_stats counters.
#
#   my $pkt = IoT::Radius::packet(code => 1, id => 7, secret => 's',
#       ma => 1, attrs => [imsi('242016000000001'), [31, '4791234567']]);
#   my $sock = IoT::Radius::udp_socket();          # bound to 127.0.0.1:<any>
#   my $reply = IoT::Radius::exchange($sock, $port, $pkt);   # or undef
#   my $r = IoT::Radius::parse_reply($reply, $pkt, 's');
#   my ($exit, $out) = IoT::Radius::radclient($port, 'auth', 's',
#                                               '3GPP-IMSI = "2420..."');

use strict;
use warnings;

use Digest::MD5 qw(md5);
use IO::Socket::INET;
use IO::Select;
use Exporter 'import';
use IoT::Test ();
use IoT::JSON ();

our @EXPORT_OK = qw(packet imsi vsa3gpp attr ip exchange parse_reply
                    radclient stats hmac_md5 udp_socket);

our $RADCLIENT = '/usr/bin/radclient';

# a reply that is expected may be slow (valgrind); silence is waited for
# only this long
our $SILENCE = 1;

sub hmac_md5 {
    my ($data, $key) = @_;
    $key = md5($key) if length $key > 64;
    $key .= "\0" x (64 - length $key);
    return md5(($key ^ ("\x5c" x 64)) . md5(($key ^ ("\x36" x 64)) . $data));
}

sub attr {
    my ($type, $value) = @_;
    return pack('CC', $type, 2 + length $value) . $value;
}

sub vsa3gpp {
    my ($type, $value) = @_;
    my $sub = pack('CC', $type, 2 + length $value) . $value;
    return attr(26, pack('N', 10415) . $sub);
}

sub imsi { vsa3gpp(1, $_[0]) }

sub ip { pack('C4', split /\./, $_[0]) }

# code, id, secret, attrs (encoded attributes or [type, value] pairs),
# ma (add a Message-Authenticator), auth (Request Authenticator of an
# Access-Request; random by default), raw_attrs (bytes appended as is)
sub packet {
    my (%o) = @_;
    my $code = $o{code} // 1;
    my $id = $o{id} // int(rand(256));
    my $secret = $o{secret} // '';

    my $attrs = join '', map { ref $_ ? attr(@$_) : $_ } @{ $o{attrs} || [] };
    $attrs .= $o{raw_attrs} if defined $o{raw_attrs};

    my $ma_at;
    if ($o{ma}) {
        $ma_at = 20 + length $attrs;
        $attrs .= attr(80, "\0" x 16);
    }

    my $len = 20 + length $attrs;
    my $auth;

    if ($code == 4) {
        $auth = "\0" x 16;
    } else {
        $auth = $o{auth} // join '', map { chr(int(rand(256))) } 1 .. 16;
    }

    my $pkt = pack('CCn', $code, $id, $len) . $auth . $attrs;

    if (defined $ma_at) {
        # RFC 2869: over the packet with the value zeroed (and, in an
        # Accounting-Request, the authenticator zeroed: RFC 5080 2.2.2)
        substr($pkt, $ma_at + 2, 16) = hmac_md5($pkt, $secret);
        substr($pkt, $ma_at + 2, 16) = "\xff" x 16 if $o{bad_ma};
    }

    if ($code == 4) {
        substr($pkt, 4, 16) = md5($pkt . $secret);
    }

    return $pkt;
}

sub udp_socket {
    my ($local) = @_;
    my $s = IO::Socket::INET->new(
        Proto     => 'udp',
        LocalAddr => $local // '127.0.0.1',
        LocalPort => 0,
    ) or die "udp socket: $!";
    return $s;
}

# sends one datagram and waits for one (undef after the timeout)
sub exchange {
    my ($sock, $port, $data, $timeout) = @_;
    $timeout //= $IoT::Test::TIMEOUT;
    my $to = pack_sockaddr_in($port, inet_aton('127.0.0.1'));
    defined send($sock, $data, 0, $to) or die "send: $!";
    return undef unless $timeout;
    my $sel = IO::Select->new($sock);
    return undef unless $sel->can_read($timeout);
    my $buf;
    defined recv($sock, $buf, 65535, 0) or return undef;
    return $buf;
}

# { code, id, len, attrs => [[type, value], ...], auth_ok, ma_ok (undef
# when the reply has none), framed_ip }
sub parse_reply {
    my ($reply, $request, $secret) = @_;
    return undef unless defined $reply && length $reply >= 20;

    my ($code, $id, $len) = unpack('CCn', $reply);
    my $r = { code => $code, id => $id, len => $len, attrs => [] };
    return $r if $len > length $reply || $len < 20;

    my $req_auth = substr($request, 4, 16);
    my $body = substr($reply, 20, $len - 20);

    $r->{auth_ok} = md5(substr($reply, 0, 4) . $req_auth . $body . $secret)
                    eq substr($reply, 4, 16) ? 1 : 0;

    my $p = 0;
    while ($p + 2 <= length $body) {
        my ($t, $l) = unpack('CC', substr($body, $p, 2));
        last if $l < 2 || $p + $l > length $body;
        my $v = substr($body, $p + 2, $l - 2);
        push @{ $r->{attrs} }, [$t, $v];

        if ($t == 80) {
            my $copy = substr($reply, 0, $len);
            substr($copy, 4, 16) = $req_auth;
            substr($copy, 20 + $p + 2, 16) = "\0" x 16;
            $r->{ma_ok} = hmac_md5($copy, $secret) eq $v ? 1 : 0;
            $r->{ma_first} = $p == 0 ? 1 : 0;
        }
        if ($t == 8 && $l == 6) {
            $r->{framed_ip} = join '.', unpack('C4', $v);
        }
        $p += $l;
    }

    return $r;
}

# radclient -x with the attributes on stdin; returns (exit status, output)
sub radclient {
    my ($port, $type, $secret, $attrs, %o) = @_;
    my $retries = $o{retries} // 1;
    my $timeout = $o{timeout}
                  // ($IoT::Test::VALGRIND ? 20 : 1);
    my $dir = $o{dir} // '/tmp';
    my $in = "$dir/radclient.$$.in";
    open my $fh, '>', $in or die "$in: $!";
    print $fh $attrs, "\n";
    close $fh;
    my $cmd = "$RADCLIENT -x -r $retries -t $timeout 127.0.0.1:$port"
            . " $type '$secret' < $in 2>&1";
    my $out = `$cmd`;
    my $st = $? >> 8;
    unlink $in;
    return ($st, $out, $cmd);
}

# the counters, read from a stream server that returns $iot_radius_stats
sub stats {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp',
                                  Timeout => $IoT::Test::TIMEOUT)
        or return undef;
    local $/;
    my $text = <$s>;
    close $s;
    return IoT::JSON::json_decode($text // '');
}

1;
