package IoT::Sink;

# Destinations for outputs' tests, each in a process of its own beside the
# nginx under test: an HTTP receiver (webhooks, IFTTT), a UDP receiver and
# a mosquitto broker with a subscriber.  Each records what it received as
# JSON lines in a file of the test's prefix, which the test reads.
#
#   my $hook = IoT::Sink->http($t[, $port]); # ->{port}
#   my $tls = IoT::Sink->http($t, undef, tls => 1);
#                                    # https, self-signed: ->{crt} (PEM)
#   $hook->fail(1);                          # answer 500 from now on
#   my @req = $hook->received;               # [{path, headers, body}, ...]
#   my $udp = IoT::Sink->udp($t);            # ->received: [{payload}]
#   my $mq = IoT::Sink->mqtt($t, 'topic');   # broker and mosquitto_sub
#   $mq->stop_broker; $mq->start_broker;
#   $sink->stop;

use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);
use IoT::JSON;
use IoT::Test;

my $n = 0;

sub _new {
    my ($class, $t, $kind) = @_;
    $n++;
    my $self = bless { t => $t, kind => $kind,
                       file => $t->dir . "/sink-$kind-$n.jsonl",
                       ctl => $t->dir . "/sink-$kind-$n.fail",
                       pids => [] }, $class;
    open my $fh, '>', $self->{file} or die "$self->{file}: $!";
    close $fh;
    return $self;
}

sub _record {
    my ($file, $rec) = @_;
    open my $fh, '>>', $file or die "$file: $!";
    print $fh json_encode($rec), "\n";
    close $fh;
}

# a self-signed certificate for localhost and 127.0.0.1: (crt, key)
sub _self_signed {
    my ($self, $name) = @_;
    my ($crt, $key) = map { $self->{t}->dir . "/$name.$_" } qw(crt key);
    system("openssl req -x509 -newkey rsa:2048 -nodes -keyout '$key'"
           . " -out '$crt' -days 2 -subj /CN=localhost"
           . " -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
           . " 2>/dev/null") == 0
        or die "openssl failed\n";
    chmod 0644, $key, $crt;
    return ($crt, $key);
}

# an HTTP server: records each request it answers 200 (not those it fails);
# with tls => 1 it speaks https with a self-signed certificate (->{crt}),
# and a client that refuses it leaves no record
sub http {
    my ($class, $t, $port, %o) = @_;
    require HTTP::Daemon;
    require HTTP::Response;
    my $self = $class->_new($t, 'http');
    my ($crt, $key);
    if ($o{tls}) {
        require IO::Socket::SSL;
        ($crt, $key) = $self->_self_signed("sink-https-$n");
        $self->{crt} = $crt;
    }
    my $d = HTTP::Daemon->new(LocalAddr => '127.0.0.1',
                              LocalPort => $port // 0,
                              ReuseAddr => 1) or die "HTTP::Daemon: $!";
    $self->{port} = $d->sockport;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        while (my $c = $d->accept) {
            if ($o{tls}) {
                # the connection, as HTTP::Daemon reads it, over TLS
                IoT::Sink::TLSConn->start_SSL($c, SSL_server => 1,
                                              SSL_cert_file => $crt,
                                              SSL_key_file => $key,
                                              Timeout => 10)
                    or do { $c->close; next };
            }
            while (my $r = $c->get_request) {
                my $fail = -e $self->{ctl};
                unless ($fail) {
                    my %h;
                    for my $k ($r->headers->header_field_names) {
                        $h{lc $k} = $r->header($k);
                    }
                    _record($self->{file}, { method => $r->method,
                                             path => $r->uri->path,
                                             headers => \%h,
                                             body => $r->content });
                }
                my $res = HTTP::Response->new($fail ? 500 : 200);
                $res->content($fail ? 'failing' : 'ok');
                $c->force_last_request;
                $c->send_response($res);
            }
            $c->close;
        }
        POSIX::_exit(0);
    }
    close $d;
    push @{ $self->{pids} }, $pid;
    return $self;
}

# a UDP socket: records each datagram's payload
sub udp {
    my ($class, $t) = @_;
    my $self = $class->_new($t, 'udp');
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'udp') or die "udp: $!";
    $self->{port} = $s->sockport;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        while (1) {
            my $buf;
            defined $s->recv($buf, 65535) or next;
            _record($self->{file}, { payload => $buf });
        }
    }
    close $s;
    push @{ $self->{pids} }, $pid;
    return $self;
}

# mosquitto on a free loopback port with its own config, and mosquitto_sub
# (QoS 1) writing every message of the topic; with tls => 1 also a TLS
# listener (->{tls_port}) with a self-signed certificate made by openssl
# (->{crt})
sub mqtt {
    my ($class, $t, $topic, %o) = @_;
    my $self = $class->_new($t, 'mqtt');
    $self->{port} = IoT::Test::free_port('tcp');
    $self->{topic} = $topic;
    $self->{conf} = $t->dir . "/mosquitto-$n.conf";
    my $tls = '';
    if ($o{tls}) {
        my ($crt, $key) = $self->_self_signed("mosquitto-$n");
        $self->{crt} = $crt;
        $self->{tls_port} = IoT::Test::free_port('tcp');
        $tls = "listener $self->{tls_port} 127.0.0.1\ncertfile $crt\n"
               . "keyfile $key\n";
    }
    open my $fh, '>', $self->{conf} or die $!;
    print $fh "per_listener_settings false\nallow_anonymous true\n"
              . "persistence false\nlistener $self->{port} 127.0.0.1\n$tls";
    close $fh;
    $self->start_broker;
    return $self;
}

sub _spawn {
    my ($self, $out, @cmd) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $out or POSIX::_exit(1);
        open STDERR, '>>', $self->{t}->dir . '/sink-mqtt.err';
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

sub _port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return $s ? 1 : 0;
}

sub start_broker {
    my ($self) = @_;
    my $user = (getpwuid($<))[0];
    $self->{broker} = $self->_spawn('/dev/null', '/usr/sbin/mosquitto',
                                    '-c', $self->{conf});
    wait_until(sub { _port_open($self->{port}) }, 20)
        or die "mosquitto did not start\n";
    # the subscriber writes each message as a line of JSON (the payload)
    $self->{raw} = $self->{file} . '.raw';
    $self->{sub} = $self->_spawn($self->{raw}, '/usr/bin/mosquitto_sub',
                                 '-h', '127.0.0.1', '-p', $self->{port},
                                 '-q', '1', '-t', $self->{topic},
                                 '-i', "sink-$$-$n");
    sleep 0.5;
}

sub stop_broker {
    my ($self) = @_;
    for my $k (qw(sub broker)) {
        next unless $self->{$k};
        kill 'TERM', $self->{$k};
        waitpid($self->{$k}, 0);
        delete $self->{$k};
    }
}

sub fail {
    my ($self, $on) = @_;
    if ($on) {
        open my $fh, '>', $self->{ctl} or die $!;
        close $fh;
    } else {
        unlink $self->{ctl};
    }
}

sub received {
    my ($self) = @_;
    my $file = $self->{kind} eq 'mqtt' ? $self->{raw} : $self->{file};
    open my $fh, '<', $file or return ();
    my @r;
    while (my $l = <$fh>) {
        chomp $l;
        next unless length $l;
        my $j = json_decode($l);
        push @r, $j if $j;
    }
    close $fh;
    return @r;
}

sub stop {
    my ($self) = @_;
    $self->stop_broker if $self->{kind} eq 'mqtt';
    for my $pid (@{ $self->{pids} }) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    $self->{pids} = [];
}

sub DESTROY { $_[0]->stop if $_[0]->{pids} }


# an accepted connection of HTTP::Daemon once TLS is started on it: reads
# and writes go through IO::Socket::SSL, requests are parsed by
# HTTP::Daemon::ClientConn
package IoT::Sink::TLSConn;

our @ISA = ('IO::Socket::SSL', 'HTTP::Daemon::ClientConn');

1;
