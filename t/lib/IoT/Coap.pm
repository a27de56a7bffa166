package IoT::Coap;
# The CoAP sidecar (build/iot-coap-sidecar) for tests, its link to the
# nginx under test, and libcoap's coap-client as a device.
#
#   my $coap = IoT::Coap->new($t);            # before $t->start
#   stream_conf => ... . $coap->link_conf     # the iot_coap_link server
#   $coap->start;  $coap->stop;
#   my $r = $coap->client(from => '127.0.0.2', method => 'post',
#                         path => 'meter', payload => 'x');
#   $r->{code} ('2.01', '4.01', ... or '' for no answer), $r->{body}

use strict;
use warnings;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);
use IoT::Test;

our $SIDECAR = $ENV{IOT_TEST_SIDECAR} || IoT::Test::root() . '/build/iot-coap-sidecar';
our $CLIENT = '/usr/bin/coap-client-notls';
our $CLIENT_DTLS = '/usr/bin/coap-client-openssl';

sub available { -x $SIDECAR && -x $CLIENT }

# a test that dies on the way leaves no sidecar behind
my @STARTED;
END { $_->stop for grep { $_ && $_->{pid} } @STARTED }

# two free UDP ports in a row (CoAP and DTLS)
sub free_pair {
    for (1 .. 50) {
        my $a = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'udp') or next;
        my $p = $a->sockport;
        next if $p >= 65534;
        my $b = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $p + 1, Proto => 'udp')
            or next;
        return $p;
    }
    die "no two free UDP ports in a row";
}

sub new {
    my ($class, $t, %o) = @_;
    my $self = bless {
        t      => $t,
        port   => $o{port} || free_pair(),
        link   => $o{link} || IoT::Test::free_port('udp'),
        secret => $o{secret} // join('', map { ('a' .. 'z')[rand 26] } 1 .. 32),
        queue  => $o{queue},
    }, $class;
    $self->{secret_file} = $t->dir . '/var/coap.secret';
    my $old = umask 077;
    open my $fh, '>', $self->{secret_file} or die "secret: $!";
    print $fh "$self->{secret}\n";
    close $fh;
    umask $old;
    chmod 0600, $self->{secret_file};
    return $self;
}

sub port   { $_[0]{port} }
sub link   { $_[0]{link} }
sub secret { $_[0]{secret} }
sub secret_file { $_[0]{secret_file} }
sub log_file { $_[0]{t}->dir . '/logs/sidecar.log' }

sub link_conf {
    my ($self) = @_;
    my $q = $self->{queue} ? " queue=$self->{queue}" : '';
    return "server { listen 127.0.0.1:$self->{link} udp; "
         . "iot_coap_link secret_file=$self->{secret_file}$q; }\n";
}

sub start {
    my ($self, %o) = @_;
    my @cmd = ($SIDECAR, '-s', $o{secret_file} || $self->{secret_file},
               '-l', "127.0.0.1:$self->{link}", '-a', '0.0.0.0',
               '-p', $self->{port}, '-v', 2, @{ $o{args} || [] });
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>>', $self->log_file;
        open STDERR, '>>', $self->log_file;
        exec @cmd or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    push @STARTED, $self;
    # up once its CoAP port answers (.well-known/core is libcoap's own)
    IoT::Test::wait_until(sub {
        return 0 if waitpid($pid, POSIX::WNOHANG()) == $pid
                    && do { $self->{pid} = undef; 1 };
        my $r = $self->client(method => 'get', path => '.well-known/core',
                              timeout => 1);
        return $r->{code} eq '2.05';
    }, 10) or return 0;
    return 1;
}

sub alive { $_[0]{pid} && kill(0, $_[0]{pid}) }

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    for (1 .. 100) {
        last if waitpid($self->{pid}, POSIX::WNOHANG()) == $self->{pid};
        sleep 0.05;
    }
    kill 'KILL', $self->{pid} if kill 0, $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{pid} = undef;
}

# coap-client as a device: from a source address, a method, a path, a
# payload; { code => '2.01', body => ..., out => all it printed }
sub client {
    my ($self, %o) = @_;
    my $from = $o{from} || '127.0.0.1';
    my $method = $o{method} || 'get';
    my $path = $o{path} // '';
    my @cmd = ($o{psk} ? $CLIENT_DTLS : $CLIENT,
               '-m', $method, '-B', $o{timeout} || 5, '-v', 6, '-a', $from);
    push @cmd, '-N' if $o{non};
    push @cmd, '-u', $o{identity}, '-k', $o{psk} if $o{psk};
    my $dir = $self->{t}->dir;
    my $file;
    if (defined $o{payload}) {
        $file = "$dir/var/coap-payload.$$";
        open my $fh, '>', $file or die "payload: $!";
        binmode $fh;
        print $fh $o{payload};
        close $fh;
        push @cmd, '-f', $file;
    }
    my $body_file = "$dir/var/coap-body.$$";
    unlink $body_file;
    push @cmd, '-o', $body_file;
    my $scheme = $o{psk} ? 'coaps' : 'coap';
    my $port = $o{psk} ? $self->{port} + 1 : $self->{port};
    push @cmd, "$scheme://127.0.0.1:$port/$path";
    my $out = "$dir/var/coap-out.$$";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $exit = $? >> 8;
    open my $fh, '<', $out or die "out: $!";
    binmode $fh;
    local $/;
    my $text = <$fh> // '';
    close $fh;
    unlink $out;
    unlink $file if $file;
    # libcoap's debug log names the response it got: "v:1 t:ACK c:2.01 ..."
    my $code = '';
    my @codes = $text =~ /\bt:(?:CON|NON|ACK)\s+c:(\d\.\d\d)\b/g;
    $code = $codes[-1] if @codes;
    my $body = '';
    if (open my $bf, '<', $body_file) {
        binmode $bf;
        $body = <$bf> // '';
        close $bf;
        unlink $body_file;
    }
    return { code => $code, exit => $exit, out => $text, body => $body };
}

1;
