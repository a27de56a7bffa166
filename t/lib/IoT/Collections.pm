package IoT::Collections;

# The client of the collections dialect (modelled on Telenor's NB-IoT
# "Horde" API; `iot_api collections`): X-API-Token credentials, JSON
# objects both ways, errors as {"status": N, "message": "..."}, and helpers
# that make collections, devices and tokens.  See t/README.md.
#
#   use IoT::Test;
#   use IoT::Collections;                    # exports is_error, $ID_RE
#   my $t = IoT::Test->new;
#   my $api = IoT::Collections->new($t);
#   $t->start;
#   my ($st, $C) = $api->call(POST => '/collections', body => {});
#   is_error([$api->call(GET => '/nope')], 404, 'unknown path');
#   my $D = $api->create_device($C->{collectionId});

use strict;
use warnings;

use parent 'IoT::Client';

use Test::More;
use Exporter 'import';

our @EXPORT = qw(is_error $ID_RE);

# the ids of collections and devices: 13 characters of base32hex, lower case
our $ID_RE = qr/^[0-9a-v]{13}\z/;

sub auth_headers {
    my ($self, $token) = @_;
    return ('X-API-Token' => $token);
}

# every answer of the dialect with a body is a JSON object
sub decode_body {
    my ($self, $raw) = @_;
    my $json = $self->SUPER::decode_body($raw);
    return (defined $json && ref $json eq 'HASH') ? $json : undef;
}

# ------------------------------------------------------------ creation

# make something that is not under test and return it; dies (showing the
# answer) unless the answer is 201 with a JSON object.  \%body is the
# request body, %o go to call (token => ...).
sub _created {
    my ($self, $path, $body, %o) = @_;
    my ($st, $j, undef, $raw) = $self->call(POST => $path, body => $body,
                                            %o);
    die "POST $path: $st $raw\n" unless $st == 201 && $j;
    return $j;
}

# a collection: $api->create_collection([{ tags => {...} }, token => ...])
sub create_collection {
    my ($self, $body, %o) = @_;
    return $self->_created('/collections', { %{ $body || {} } }, %o);
}

# a device in collection $cid, with a fresh IMSI and IMEI from the harness
# unless the body names them: $api->create_device($cid[, {...}, %o])
sub create_device {
    my ($self, $cid, $body, %o) = @_;
    my %b = %{ $body || {} };
    $b{imsi} = $self->{t}->next_imsi unless exists $b{imsi};
    $b{imei} = $self->{t}->next_imei unless exists $b{imei};
    return $self->_created("/collections/$cid/devices", \%b, %o);
}

# a token: $api->create_token({ resource => '/collections/x',
#                               write => JTRUE }[, token => ...])
sub create_token {
    my ($self, $body, %o) = @_;
    return $self->_created('/tokens', { %{ $body || {} } }, %o);
}

# ------------------------------------------------------------ checks

# an error answer: status, JSON content type, {"status":N,"message":"..."}
#   is_error([$api->call(...)], 404, 'name'[, qr/field/])
# (four assertions, five when $msg_re is given)
sub is_error {
    my ($res, $status, $name, $msg_re) = @_;
    my ($st, $j, $h, $raw) = @$res;
    my $ok = 1;
    $ok &= is($st, $status, "$name: status $status");
    $ok &= like($h->{'content-type'} // '', qr{^application/json\b}i,
                "$name: JSON content type");
    $ok &= ok($j && defined $j->{status} && !ref $j->{status}
              && $j->{status} =~ /^\d+\z/ && $j->{status} == $status,
              "$name: body status is $status");
    $ok &= ok($j && defined $j->{message} && !ref $j->{message}
              && length $j->{message}, "$name: body has a message");
    if ($msg_re) {
        $ok &= like($j ? ($j->{message} // '') : '', $msg_re,
                    "$name: message names the problem");
    }
    diag("answer was: $st $raw") unless $ok;
    return $ok;
}

1;
