package IoT::CoapDevice;
# A CoAP device stub for coap-push tests: a UDP socket on a device's
# address that takes confirmable requests and answers them as told:
#   mode => '2.01' (or any code): a piggybacked ACK with that code
#   mode => 'silent': no answer at all (the sender retransmits)
#   mode => 'reset': an RST
# Every request it got is kept: { type, code, mid, token, path, payload }.
# coap-client cannot be this: it does not answer requests (docs/coap.md).

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

sub new {
    my ($class, %o) = @_;
    my $sock = IO::Socket::INET->new(LocalAddr => $o{addr} || '127.0.0.1',
                                     LocalPort => $o{port} || 0,
                                     Proto => 'udp')
        or die "device stub: $!";
    return bless { sock => $sock, mode => $o{mode} || '2.01',
                   got => [] }, $class;
}

sub port { $_[0]{sock}->sockport }
sub got  { $_[0]{got} }
sub mode { $_[0]{mode} = $_[1] }

# a CoAP message: header, token, options (Uri-Path joined), payload
sub parse {
    my ($buf) = @_;
    return undef if length $buf < 4;
    my ($b0, $code, $mid) = unpack('C C n', $buf);
    my $tkl = $b0 & 0x0f;
    my $m = { type => ($b0 >> 4) & 3, code => $code, mid => $mid,
              token => substr($buf, 4, $tkl), path => [], payload => '' };
    my $p = 4 + $tkl;
    my $opt = 0;
    while ($p < length $buf) {
        my $b = ord substr($buf, $p++, 1);
        if ($b == 0xff) { $m->{payload} = substr($buf, $p); last }
        my ($d, $l) = ($b >> 4, $b & 15);
        for my $x (\$d, \$l) {
            if ($$x == 13) { $$x = 13 + ord substr($buf, $p++, 1) }
            elsif ($$x == 14) { $$x = 269 + unpack('n', substr($buf, $p, 2)); $p += 2 }
        }
        $opt += $d;
        my $v = substr($buf, $p, $l);
        $p += $l;
        push @{ $m->{path} }, $v if $opt == 11;
        $m->{format} = $v eq '' ? 0 : unpack('C', $v) if $opt == 12;
    }
    $m->{path} = join '/', @{ $m->{path} };
    return $m;
}

sub code_byte {
    my ($text) = @_;
    my ($c, $d) = split /\./, $text;
    return ($c << 5) | $d;
}

# take and answer what comes for up to $seconds (or until $until->())
sub serve {
    my ($self, $seconds, $until) = @_;
    my $sel = IO::Select->new($self->{sock});
    my $deadline = time + $seconds;
    while (time < $deadline) {
        return 1 if $until && $until->();
        next unless $sel->can_read(0.1);
        my $from = $self->{sock}->recv(my $buf, 4096);
        my $m = parse($buf) or next;
        next unless $m->{type} == 0 || $m->{type} == 1;   # requests
        push @{ $self->{got} }, $m;
        my $mode = $self->{mode};
        next if $mode eq 'silent';
        my $reply = $mode eq 'reset'
            ? pack('C C n', 0x70, 0, $m->{mid})
            : pack('C C n', 0x60 | length $m->{token}, code_byte($mode),
                   $m->{mid}) . $m->{token};
        $self->{sock}->send($reply, 0, $from);
    }
    return $until ? $until->() : 1;
}

1;
