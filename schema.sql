-- The schema that `flask db upgrade` produces on MySQL, rendered by `flask db schema`.
-- Generated: edit the migrations, never this file.

CREATE TABLE `auth_sessions` (
  `id` int NOT NULL AUTO_INCREMENT,
  `created_at` datetime NOT NULL,
  `updated_at` datetime NOT NULL,
  `user_id` int NOT NULL,
  `key` varchar(32) COLLATE utf8mb4_bin NOT NULL,
  `revoked_at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `authsession_key` (`key`),
  KEY `authsession_user_id` (`user_id`),
  CONSTRAINT `auth_sessions_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `Counters` (
  `id` int NOT NULL AUTO_INCREMENT,
  `created_at` datetime NOT NULL,
  `updated_at` datetime NOT NULL,
  `count` int NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `migratehistory` (
  `id` int NOT NULL AUTO_INCREMENT,
  `name` varchar(255) NOT NULL,
  `migrated_at` datetime NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `notifications` (
  `id` int NOT NULL AUTO_INCREMENT,
  `created_at` datetime NOT NULL,
  `updated_at` datetime NOT NULL,
  `user_id` int NOT NULL,
  `kind` varchar(32) NOT NULL,
  `template_id` varchar(64) COLLATE utf8mb4_bin NOT NULL,
  `page` varchar(255) DEFAULT NULL,
  `data` text NOT NULL,
  `status` varchar(8) NOT NULL,
  `attempts` int NOT NULL,
  `last_errcode` int DEFAULT NULL,
  `last_error` varchar(32) DEFAULT NULL,
  `next_attempt_at` datetime NOT NULL,
  `claimed_by` varchar(32) COLLATE utf8mb4_bin DEFAULT NULL,
  `claimed_until` datetime DEFAULT NULL,
  `in_flight` tinyint(1) NOT NULL,
  `permission_taken` tinyint(1) NOT NULL,
  `sent_at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `notification_status_next_attempt_at` (`status`,`next_attempt_at`),
  KEY `notification_user_id` (`user_id`),
  CONSTRAINT `notifications_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `push_messages` (
  `id` int NOT NULL AUTO_INCREMENT,
  `created_at` datetime NOT NULL,
  `updated_at` datetime NOT NULL,
  `dedupe_key` varchar(128) COLLATE utf8mb4_bin NOT NULL,
  `msg_id` varchar(64) COLLATE utf8mb4_bin DEFAULT NULL,
  `to_user` varchar(64) COLLATE utf8mb4_bin DEFAULT NULL,
  `from_user` varchar(64) COLLATE utf8mb4_bin DEFAULT NULL,
  `create_time` bigint DEFAULT NULL,
  `msg_type` varchar(32) DEFAULT NULL,
  `event` varchar(64) DEFAULT NULL,
  `content` text DEFAULT NULL,
  `payload` longtext NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `pushmessage_dedupe_key` (`dedupe_key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `rate_limits` (
  `bucket` varchar(96) COLLATE utf8mb4_bin NOT NULL,
  `hits` int NOT NULL,
  `expires_at` datetime NOT NULL,
  PRIMARY KEY (`bucket`),
  KEY `ratelimit_expires_at` (`expires_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `refresh_tokens` (
  `id` int NOT NULL AUTO_INCREMENT,
  `created_at` datetime NOT NULL,
  `updated_at` datetime NOT NULL,
  `session_id` int NOT NULL,
  `token_hash` varchar(64) COLLATE utf8mb4_bin NOT NULL,
  `expires_at` datetime NOT NULL,
  `used_at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `refreshtoken_session_id` (`session_id`),
  UNIQUE KEY `refreshtoken_token_hash` (`token_hash`),
  CONSTRAINT `refresh_tokens_ibfk_1` FOREIGN KEY (`session_id`) REFERENCES `auth_sessions` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `subscribe_permissions` (
  `id` int NOT NULL AUTO_INCREMENT,
  `created_at` datetime NOT NULL,
  `updated_at` datetime NOT NULL,
  `user_id` int NOT NULL,
  `template_id` varchar(64) COLLATE utf8mb4_bin NOT NULL,
  `remaining` int NOT NULL,
  PRIMARY KEY (`id`),
  KEY `subscribepermission_user_id` (`user_id`),
  UNIQUE KEY `subscribepermission_user_id_template_id` (`user_id`,`template_id`),
  CONSTRAINT `subscribe_permissions_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `users` (
  `id` int NOT NULL AUTO_INCREMENT,
  `created_at` datetime NOT NULL,
  `updated_at` datetime NOT NULL,
  `openid` varchar(64) COLLATE utf8mb4_bin NOT NULL,
  `unionid` varchar(64) COLLATE utf8mb4_bin DEFAULT NULL,
  `nickname` varchar(64) DEFAULT NULL,
  `avatar_url` varchar(512) DEFAULT NULL,
  `role` int NOT NULL,
  `status` int NOT NULL,
  `verification_status` int NOT NULL,
  `phone_number` varchar(32) COLLATE utf8mb4_bin DEFAULT NULL,
  `real_name` varchar(64) DEFAULT NULL,
  `work_id` varchar(64) DEFAULT NULL,
  `verification_materials` text DEFAULT NULL,
  `verification_applied_at` datetime DEFAULT NULL,
  `reviewed_by` int DEFAULT NULL,
  `reviewed_at` datetime DEFAULT NULL,
  `review_note` varchar(255) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `user_openid` (`openid`),
  UNIQUE KEY `users_phone_number` (`phone_number`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
