package io.statesync.node.producer;

/** The producer thread of a thread ended without being told to stop: production has halted. */
public final class ProducerFailedException extends RuntimeException {
    ProducerFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
